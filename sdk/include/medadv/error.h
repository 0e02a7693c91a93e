#pragma once
// The SDK's exception types. Their key functions live in the SDK runtime library so
// that every module, loaded RTLD_LOCAL, sees one typeinfo for each.
#include <stdexcept>
#include <string>
#include <vector>

#include "medadv/export.h"
#include "medadv/value.h"

namespace medadv {

// A runtime failure: the command exits with status 1.
class MEDADV_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what);
  ~Error() override;
};

// Invalid input (a file, an experiment, a parameter, a plugin library): exit status 2.
class MEDADV_API InvalidInput : public Error {
 public:
  explicit InvalidInput(const std::string& what);
  ~InvalidInput() override;
};

// One problem found while validating input, located as precisely as the input allows.
struct MEDADV_API Diagnostic {
  SourceLocation where;
  std::string key;     // dotted path, e.g. "attack[1].epsilon"
  std::string plugin;  // plugin whose schema the key belongs to, if any
  std::string message;

  // "file:line:column: key 'attack[1].epsilon' (plugin pgd): message"
  std::string to_string() const;
};

// Every problem found in one validation pass, reported together.
class MEDADV_API ValidationError : public InvalidInput {
 public:
  explicit ValidationError(std::vector<Diagnostic> diagnostics);
  ~ValidationError() override;
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

// A plugin asked for something its threat model does not grant (ARCHITECTURE.md 4).
class MEDADV_API CapabilityError : public Error {
 public:
  explicit CapabilityError(const std::string& what);
  ~CapabilityError() override;
};

// A black-box attack exceeded its query budget.
class MEDADV_API QueryBudgetExceeded : public CapabilityError {
 public:
  explicit QueryBudgetExceeded(const std::string& what);
  ~QueryBudgetExceeded() override;
};

}  // namespace medadv
