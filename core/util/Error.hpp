// The one error type of ckpt: carries what failed and on which pid/fd/path, so
// the command boundary can print a single line that tells the user what to do.
#pragma once

#include <sys/types.h>
#include <cerrno>
#include <stdexcept>
#include <string>

namespace ckpt {

class Error : public std::runtime_error {
 public:
  explicit Error(std::string what) : std::runtime_error(std::move(what)) {}
};

// An error that came from a failed system call: appends strerror(errno).
class SysError : public Error {
 public:
  SysError(const std::string& what, int err);
  int err() const { return err_; }

 private:
  int err_;
};

// Throws SysError(what, errno). Use right after the failing call.
[[noreturn]] void throwErrno(const std::string& what);

}  // namespace ckpt
