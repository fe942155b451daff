// ncurses keeps "the current terminal" in a global; each call here makes this
// entry current for its duration and puts the previous one back.
#include "tty/model/Terminfo.hpp"

#include <fcntl.h>
#include <term.h>
#include <unistd.h>

#include "core/util/Error.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt::tty {
namespace {

class CurrentTerm {
 public:
  explicit CurrentTerm(TERMINAL* t) : previous_(set_curterm(t)) {}
  ~CurrentTerm() { set_curterm(previous_); }
  CurrentTerm(const CurrentTerm&) = delete;
  CurrentTerm& operator=(const CurrentTerm&) = delete;

 private:
  TERMINAL* previous_;
};

bool present(const char* s) {
  return s != nullptr && s != reinterpret_cast<const char*>(-1);
}

}  // namespace

Terminfo::Terminfo(const std::string& name) : name_(name), term_(nullptr) {
  // setupterm looks at its fd only to learn the window size: give it one
  // that is no terminal, so nothing is read from or done to the user's.
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  TERMINAL* previous = cur_term;
  int err = 0;
  int rc = setupterm(name.c_str(), null.get(), &err);
  term_ = cur_term;
  set_curterm(previous);
  if (rc != 0 || !term_) {  // 0 is OK
    if (term_ && term_ != previous) del_curterm(term_);
    throw Error("no terminfo entry for TERM '" + name + "'");
  }
}

Terminfo::~Terminfo() {
  TERMINAL* previous = cur_term;
  if (previous == term_) previous = nullptr;
  set_curterm(previous);
  del_curterm(term_);
}

bool Terminfo::has(const char* cap) const {
  CurrentTerm current(term_);
  return present(tigetstr(cap));
}

std::string Terminfo::str(const char* cap) const {
  CurrentTerm current(term_);
  const char* s = tigetstr(cap);
  return present(s) ? std::string(s) : std::string();
}

int Terminfo::num(const char* cap) const {
  CurrentTerm current(term_);
  int n = tigetnum(cap);
  return n < 0 ? -1 : n;
}

bool Terminfo::flag(const char* cap) const {
  CurrentTerm current(term_);
  return tigetflag(cap) > 0;
}

std::string Terminfo::param(const char* cap, long p1, long p2) const {
  CurrentTerm current(term_);
  const char* s = tigetstr(cap);
  if (!present(s)) return {};
  const char* out = tiparm(s, p1, p2);
  return out ? std::string(out) : std::string();
}

}  // namespace ckpt::tty
