// The zdtm-style test programs (tests/programs/) and the real programs that
// follow the same protocol, as the integration tests run them.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "Harness.hpp"

namespace ckpt::test {

// Every program that speaks the ready/SIGUSR1 protocol: the built zdtm
// programs and a python3 script.
std::vector<ProgramCase> protocolPrograms();

// A program by name from protocolPrograms().
ProgramCase programCase(const std::string& name);

// First existing path of a system program ("python3" -> /usr/bin/python3).
std::string systemProgram(const std::string& name);

// For gtest messages ("where GetParam() = ...").
inline void PrintTo(const ProgramCase& p, std::ostream* os) {
  *os << p.name;
}

// For gtest parameter names.
inline std::string caseName(const ProgramCase& p) {
  return p.name;
}

}  // namespace ckpt::test
