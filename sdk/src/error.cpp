#include "medadv/error.h"

#include <sstream>


namespace medadv {

Error::Error(const std::string& what) : std::runtime_error(what) {}
Error::~Error() = default;

InvalidInput::InvalidInput(const std::string& what) : Error(what) {}
InvalidInput::~InvalidInput() = default;

CapabilityError::CapabilityError(const std::string& what) : Error(what) {}
CapabilityError::~CapabilityError() = default;

QueryBudgetExceeded::QueryBudgetExceeded(const std::string& what) : CapabilityError(what) {}
QueryBudgetExceeded::~QueryBudgetExceeded() = default;

std::string Diagnostic::to_string() const {
  std::ostringstream out;
  const std::string place = where.to_string();
  if (!place.empty()) out << place << ": ";
  if (!key.empty()) out << "key '" << key << "'";
  if (!plugin.empty()) out << (key.empty() ? "" : " ") << "(plugin " << plugin << ")";
  if (!key.empty() || !plugin.empty()) out << ": ";
  out << message;
  return out.str();
}

namespace {
std::string join_diagnostics(const std::vector<Diagnostic>& diagnostics) {
  std::ostringstream out;
  out << diagnostics.size() << (diagnostics.size() == 1 ? " error" : " errors");
  for (const auto& d : diagnostics) out << "\n  " << d.to_string();
  return out.str();
}
}  // namespace

ValidationError::ValidationError(std::vector<Diagnostic> diagnostics)
    : InvalidInput(join_diagnostics(diagnostics)), diagnostics_(std::move(diagnostics)) {}
ValidationError::~ValidationError() = default;

}  // namespace medadv
