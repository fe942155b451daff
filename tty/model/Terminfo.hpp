// One terminal's terminfo entry (ncurses), loaded by name: what Repaint uses
// to drive a terminal without hard-coded escape sequences.
#pragma once

#include <string>

struct term;

namespace ckpt::tty {

class Terminfo {
 public:
  // Loads the entry of `name` (a TERM value); throws Error when it is unknown.
  explicit Terminfo(const std::string& name);
  ~Terminfo();
  Terminfo(const Terminfo&) = delete;
  Terminfo& operator=(const Terminfo&) = delete;

  const std::string& name() const { return name_; }
  bool has(const char* cap) const;         // a string capability the entry has
  std::string str(const char* cap) const;  // "" when absent
  int num(const char* cap) const;          // -1 when absent
  bool flag(const char* cap) const;
  // The capability with parameters (tiparm); "" when absent.
  std::string param(const char* cap, long p1, long p2 = 0) const;

 private:
  std::string name_;
  struct term* term_;
};

}  // namespace ckpt::tty
