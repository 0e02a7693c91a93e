#include "cli/command.h"

int main(int argc, char** argv) { return medadv::host::run_cli(argc, argv); }
