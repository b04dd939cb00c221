// ambit's native addon: the few Linux socket and namespace calls Node does not expose.
//
// Every failing syscall becomes a JS Error with `code` (the errno name, e.g. "ENOENT"),
// `errno` (the positive Linux errno) and `syscall` (the call that failed), like Node's own
// system errors. The TypeScript layer (src/platform/native.ts) maps them to AmbitErrors.
//
// Threading: Node runs JS on one thread and setns(2) changes only the calling thread, so the
// netns helpers switch the JS thread into the target namespace, do the minimum there (create a
// socket: a socket belongs to the namespace it was created in for its whole life) and switch
// back before returning, also when the callback throws. If switching back ever failed the JS
// thread would silently live in a pod's namespace, so that case aborts the process.

#include <napi.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

// From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>; those headers clash
// with glibc's netinet headers, so the two stable ABI numbers are written here.
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

namespace {

Napi::Error SyscallError(Napi::Env env, const char* syscall, int err, const std::string& detail = "") {
  const char* name = strerrorname_np(err);
  std::string code = name != nullptr ? name : "E" + std::to_string(err);
  std::string message = std::string(syscall) + " failed: " + strerror(err) + " (" + code + ")";
  if (!detail.empty()) message += " " + detail;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

// Closes an fd on scope exit unless released: every error path after socket() must not leak.
class FdOwner {
 public:
  explicit FdOwner(int fd) : fd_(fd) {}
  ~FdOwner() {
    if (fd_ >= 0) close(fd_);
  }
  FdOwner(const FdOwner&) = delete;
  FdOwner& operator=(const FdOwner&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// Enters a network namespace for the lifetime of the object (the calling thread only).
class NetnsSwitch {
 public:
  NetnsSwitch() = default;
  NetnsSwitch(const NetnsSwitch&) = delete;
  NetnsSwitch& operator=(const NetnsSwitch&) = delete;

  // Returns 0, or the errno with `failed` naming the syscall; the thread is unchanged on failure.
  int Enter(const std::string& path, const char** failed) {
    origin_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (origin_ < 0) {
      *failed = "open(/proc/thread-self/ns/net)";
      return errno;
    }
    int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0) {
      int err = errno;
      *failed = "open(netns)";
      return err;
    }
    int rc = setns(target, CLONE_NEWNET);
    int err = errno;
    close(target);
    if (rc != 0) {
      *failed = "setns";
      return err;
    }
    entered_ = true;
    return 0;
  }

  ~NetnsSwitch() {
    if (entered_ && setns(origin_, CLONE_NEWNET) != 0) {
      // The JS thread would keep running inside a foreign namespace: every later socket would be
      // created there. No way to recover safely.
      std::fprintf(stderr, "ambit_native: setns back to the original netns failed: %s\n", strerror(errno));
      std::abort();
    }
    if (origin_ >= 0) close(origin_);
  }

 private:
  int origin_ = -1;
  bool entered_ = false;
};

bool ReadFd(const Napi::CallbackInfo& info, size_t index, int* fd) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    Napi::TypeError::New(info.Env(), "fd must be a number").ThrowAsJavaScriptException();
    return false;
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= 0 && value <= 2147483647.0) || value != static_cast<int>(value)) {
    Napi::TypeError::New(info.Env(), "fd must be a non-negative integer").ThrowAsJavaScriptException();
    return false;
  }
  *fd = static_cast<int>(value);
  return true;
}

bool ReadInt(const Napi::CallbackInfo& info, size_t index, const char* what, int* out) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a number").ThrowAsJavaScriptException();
    return false;
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= -2147483648.0 && value <= 2147483647.0) || value != static_cast<int>(value)) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be an integer").ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int>(value);
  return true;
}

Napi::Object AddressObject(Napi::Env env, const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {0};
  Napi::Object out = Napi::Object::New(env);
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    out.Set("address", Napi::String::New(env, text));
    out.Set("port", Napi::Number::New(env, ntohs(in->sin_port)));
    out.Set("family", Napi::Number::New(env, 4));
  } else {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    out.Set("address", Napi::String::New(env, text));
    out.Set("port", Napi::Number::New(env, ntohs(in6->sin6_port)));
    out.Set("family", Napi::Number::New(env, 6));
  }
  return out;
}

// getOriginalDst(fd) -> { address, port, family }: the destination the client dialled before a
// nat REDIRECT/DNAT rewrote it (conntrack's original tuple).
Napi::Value GetOriginalDst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ReadFd(info, 0, &fd)) return env.Undefined();

  sockaddr_storage local{};
  socklen_t local_len = sizeof local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
    SyscallError(env, "getsockname", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  sockaddr_storage dst{};
  socklen_t dst_len;
  if (local.ss_family == AF_INET) {
    dst_len = sizeof(sockaddr_in);
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &dst_len) != 0) {
      SyscallError(env, "getsockopt(SOL_IP, SO_ORIGINAL_DST)", errno).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    dst.ss_family = AF_INET;
  } else if (local.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&local);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      // An IPv4 connection accepted on a dual-stack socket: conntrack tracked it as IPv4, and the
      // IPv4 getsockopt reads the socket's v4 tuple.
      dst_len = sizeof(sockaddr_in);
      if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &dst_len) != 0) {
        SyscallError(env, "getsockopt(SOL_IP, SO_ORIGINAL_DST)", errno).ThrowAsJavaScriptException();
        return env.Undefined();
      }
      dst.ss_family = AF_INET;
    } else {
      dst_len = sizeof(sockaddr_in6);
      if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &dst_len) != 0) {
        SyscallError(env, "getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST)", errno).ThrowAsJavaScriptException();
        return env.Undefined();
      }
      dst.ss_family = AF_INET6;
    }
  } else {
    SyscallError(env, "getsockname", EAFNOSUPPORT, "(not an IPv4/IPv6 socket)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return AddressObject(env, dst);
}

// setsockoptInt(fd, level, name, value): for IP_TRANSPARENT, SO_MARK, SO_REUSEPORT, TCP_NODELAY...
Napi::Value SetsockoptInt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, level, name, value;
  if (!ReadFd(info, 0, &fd) || !ReadInt(info, 1, "level", &level) || !ReadInt(info, 2, "name", &name) ||
      !ReadInt(info, 3, "value", &value)) {
    return env.Undefined();
  }
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) {
    SyscallError(env, "setsockopt", errno,
                 "(level " + std::to_string(level) + ", option " + std::to_string(name) + ")")
        .ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// getsockoptInt(fd, level, name) -> number
Napi::Value GetsockoptInt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, level, name;
  if (!ReadFd(info, 0, &fd) || !ReadInt(info, 1, "level", &level) || !ReadInt(info, 2, "name", &name)) {
    return env.Undefined();
  }
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, level, name, &value, &len) != 0) {
    SyscallError(env, "getsockopt", errno,
                 "(level " + std::to_string(level) + ", option " + std::to_string(name) + ")")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, value);
}

// Fills `addr` from a literal IPv4/IPv6 address; false when it is neither.
bool ParseAddress(const std::string& text, int port, sockaddr_storage* addr, socklen_t* len) {
  *addr = sockaddr_storage{};
  auto* in = reinterpret_cast<sockaddr_in*>(addr);
  if (inet_pton(AF_INET, text.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in);
    return true;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(addr);
  if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

bool OptionalBool(Napi::Object opts, const char* key, bool fallback) {
  Napi::Value v = opts.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : fallback;
}

// Creates a non-blocking, close-on-exec TCP socket, inside `netns` when given. Only socket(2)
// runs in the foreign namespace: the socket keeps that namespace for its whole life.
int OpenTcpSocket(Napi::Env env, int family, const std::string& netns) {
  int fd;
  int socket_errno = 0;
  if (netns.empty()) {
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    socket_errno = errno;
  } else {
    NetnsSwitch sw;
    const char* failed = nullptr;
    int err = sw.Enter(netns, &failed);
    if (err != 0) {
      SyscallError(env, failed, err, "(netns " + netns + ")").ThrowAsJavaScriptException();
      return -1;
    }
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    socket_errno = errno;  // before the switch back can touch errno
  }
  if (fd < 0) SyscallError(env, "socket", socket_errno).ThrowAsJavaScriptException();
  return fd;
}

bool ReadNetns(Napi::Object opts, std::string* netns) {
  Napi::Value v = opts.Get("netns");
  if (v.IsUndefined() || v.IsNull()) return true;
  if (!v.IsString() || v.As<Napi::String>().Utf8Value().empty()) {
    Napi::TypeError::New(opts.Env(), "netns must be a non-empty path").ThrowAsJavaScriptException();
    return false;
  }
  *netns = v.As<Napi::String>().Utf8Value();
  return true;
}

// createListenSocket({ address, port, transparent?, reusePort?, mark?, backlog?, netns?, listen? }) -> fd
// The fd is non-blocking and listening; hand it to `server.listen({ fd })`. With `listen: false`
// it is only bound (port conflicts show now) and `server.listen({ fd })` starts listening later:
// a SO_REUSEPORT socket joins its group, and gets connections, only from listen() on.
Napi::Value CreateListenSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "options object expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object opts = info[0].As<Napi::Object>();
  if (!opts.Get("address").IsString() || !opts.Get("port").IsNumber()) {
    Napi::TypeError::New(env, "address (string) and port (number) are required").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string address = opts.Get("address").As<Napi::String>().Utf8Value();
  double port_value = opts.Get("port").As<Napi::Number>().DoubleValue();
  if (!(port_value >= 0 && port_value <= 65535) || port_value != static_cast<int>(port_value)) {
    Napi::RangeError::New(env, "port must be an integer 0-65535").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int port = static_cast<int>(port_value);
  int backlog = 511;
  if (opts.Get("backlog").IsNumber()) backlog = opts.Get("backlog").As<Napi::Number>().Int32Value();
  bool transparent = OptionalBool(opts, "transparent", false);
  bool reuse_port = OptionalBool(opts, "reusePort", false);
  bool do_listen = OptionalBool(opts, "listen", true);
  bool has_mark = opts.Get("mark").IsNumber();
  uint32_t mark = has_mark ? opts.Get("mark").As<Napi::Number>().Uint32Value() : 0;
  std::string netns;
  if (!ReadNetns(opts, &netns)) return env.Undefined();

  sockaddr_storage addr;
  socklen_t addr_len;
  if (!ParseAddress(address, port, &addr, &addr_len)) {
    Napi::TypeError::New(env, "address must be an IPv4 or IPv6 literal, got \"" + address + "\"")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }

  int raw = OpenTcpSocket(env, addr.ss_family, netns);
  if (raw < 0) return env.Undefined();
  FdOwner fd(raw);

  int one = 1;
  // Like Node's own listeners: a restarted proxy can rebind while old connections sit in TIME_WAIT.
  if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    SyscallError(env, "setsockopt(SO_REUSEADDR)", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (reuse_port && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    SyscallError(env, "setsockopt(SO_REUSEPORT)", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (transparent) {
    int level = addr.ss_family == AF_INET ? SOL_IP : SOL_IPV6;
    int name = addr.ss_family == AF_INET ? IP_TRANSPARENT : IPV6_TRANSPARENT;
    if (setsockopt(fd.get(), level, name, &one, sizeof one) != 0) {
      SyscallError(env, "setsockopt(IP_TRANSPARENT)", errno, "(needs CAP_NET_ADMIN)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  if (has_mark && setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
    SyscallError(env, "setsockopt(SO_MARK)", errno, "(needs CAP_NET_ADMIN)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    SyscallError(env, "bind", errno, address + ":" + std::to_string(port)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (do_listen && listen(fd.get(), backlog) != 0) {
    SyscallError(env, "listen", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd.release());
}

// createSocket({ family: 4|6, netns? }) -> fd of an unconnected non-blocking TCP socket, for
// `new net.Socket({ fd }).connect(...)`: the connection leaves from that socket's namespace.
Napi::Value CreateSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "options object expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object opts = info[0].As<Napi::Object>();
  int family = AF_INET;
  Napi::Value f = opts.Get("family");
  if (f.IsNumber() && f.As<Napi::Number>().Int32Value() == 6) family = AF_INET6;
  std::string netns;
  if (!ReadNetns(opts, &netns)) return env.Undefined();
  int fd = OpenTcpSocket(env, family, netns);
  if (fd < 0) return env.Undefined();
  return Napi::Number::New(env, fd);
}

// inNetns(path, fn) -> fn's result. Runs the synchronous `fn` with the JS thread inside the
// namespace at `path`, and always switches back (also when fn throws).
Napi::Value InNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "inNetns(path: string, fn: function) expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Napi::Function fn = info[1].As<Napi::Function>();
  NetnsSwitch sw;
  const char* failed = nullptr;
  int err = sw.Enter(path, &failed);
  if (err != 0) {
    SyscallError(env, failed, err, "(netns " + path + ")").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // With C++ exceptions disabled a JS throw leaves an empty value and a pending exception; the
  // switch's destructor still runs on return, and the exception propagates to the caller.
  Napi::Value result = fn.Call({});
  if (result.IsEmpty()) return env.Undefined();
  return result;
}

// currentNetnsInode() -> the inode of the calling thread's netns (tests check the switch back).
Napi::Value CurrentNetnsInode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  char link[64] = {0};
  ssize_t n = readlink("/proc/thread-self/ns/net", link, sizeof link - 1);
  if (n < 0) {
    SyscallError(env, "readlink(/proc/thread-self/ns/net)", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::String::New(env, std::string(link, static_cast<size_t>(n)));
}

// mallocTrim() -> whether glibc handed memory back to the system. malloc_trim(0) returns the free
// pages of every arena, not just the top of the main heap: what a burst's freed buffers leave.
Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  c.Set("SOL_SOCKET", Napi::Number::New(env, SOL_SOCKET));
  c.Set("SOL_IP", Napi::Number::New(env, SOL_IP));
  c.Set("SOL_IPV6", Napi::Number::New(env, SOL_IPV6));
  c.Set("IPPROTO_TCP", Napi::Number::New(env, IPPROTO_TCP));
  c.Set("SO_REUSEADDR", Napi::Number::New(env, SO_REUSEADDR));
  c.Set("SO_REUSEPORT", Napi::Number::New(env, SO_REUSEPORT));
  c.Set("SO_MARK", Napi::Number::New(env, SO_MARK));
  c.Set("SO_KEEPALIVE", Napi::Number::New(env, SO_KEEPALIVE));
  c.Set("IP_TRANSPARENT", Napi::Number::New(env, IP_TRANSPARENT));
  c.Set("IPV6_TRANSPARENT", Napi::Number::New(env, IPV6_TRANSPARENT));
  c.Set("IP_FREEBIND", Napi::Number::New(env, IP_FREEBIND));
  c.Set("TCP_NODELAY", Napi::Number::New(env, TCP_NODELAY));
  c.Set("SO_ORIGINAL_DST", Napi::Number::New(env, SO_ORIGINAL_DST));
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("getOriginalDst", Napi::Function::New(env, GetOriginalDst, "getOriginalDst"));
  exports.Set("setsockoptInt", Napi::Function::New(env, SetsockoptInt, "setsockoptInt"));
  exports.Set("getsockoptInt", Napi::Function::New(env, GetsockoptInt, "getsockoptInt"));
  exports.Set("createListenSocket", Napi::Function::New(env, CreateListenSocket, "createListenSocket"));
  exports.Set("createSocket", Napi::Function::New(env, CreateSocket, "createSocket"));
  exports.Set("inNetns", Napi::Function::New(env, InNetns, "inNetns"));
  exports.Set("currentNetnsInode", Napi::Function::New(env, CurrentNetnsInode, "currentNetnsInode"));
  exports.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
  exports.Set("constants", Constants(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(ambit_native, Init)
