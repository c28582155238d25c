#include "vigil/agent/rule_event.h"

#include <charconv>
#include <fstream>

#include "vigil/abi.h"
#include "vigil/namespaces.h"

namespace vigil::agent {
namespace {

using sigma::Category;
using sigma::Field;

void join_args(const ArgList& args, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i != 0) {
      out.push_back(' ');
    }
    out.append(args[i]);
  }
}

// Slots of RuleEventBuilder::numbers_.
enum NumberSlot : std::size_t {
  kPid,
  kPpid,
  kUid,
  kEuid,
  kTargetPid,
  kDstPort,
  kSrcPort,
  kLoginUid,
  kNsMntSlot,  // ns.mnt ... ns.cgroup, in kNsKindNames order
  kNsPidInNsSlot = kNsMntSlot + 7,
  kNumberSlotCount,
};

// The ns.* fields, in kNsKindNames order.
constexpr std::array<Field, 7> kNsFields = {Field::kNsMnt,   Field::kNsPid, Field::kNsNet,
                                            Field::kNsUser,  Field::kNsUts, Field::kNsIpc,
                                            Field::kNsCgroup};

// "registry:5000/team/app:1.2@sha256:..." -> repository, tag (views into image).
std::pair<std::string_view, std::string_view> split_image(std::string_view image) {
  const auto at = image.find('@');
  const std::string_view named = image.substr(0, at);
  const auto slash = named.rfind('/');
  const auto colon = named.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    return {named.substr(0, colon), named.substr(colon + 1)};
  }
  return {named, {}};
}

std::string_view memory_request(EventType type) {
  switch (type) {
    case EventType::kWxMemory:
      return "wx_memory";
    case EventType::kExecAdded:
      return "exec_added";
    case EventType::kMemfd:
      return "memfd";
    case EventType::kFilelessExec:
      return "fileless_exec";
    case EventType::kInject:
      return "inject";
    default:
      return "";
  }
}

}  // namespace

std::string_view RuleEventBuilder::number(std::size_t slot, std::uint64_t value) {
  auto& buf = numbers_[slot];
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  number_len_[slot] = static_cast<std::uint8_t>(r.ptr - buf.data());
  return {buf.data(), number_len_[slot]};
}

std::string_view RuleEventBuilder::user_name(std::uint32_t uid) {
  for (std::size_t i = 0; i < users_n_; ++i) {
    if (users_[i].uid == uid) {
      return users_[i].name;
    }
  }
  // A miss reads /etc/passwd once for this uid (NSS is not used: no network
  // lookups on the event path). Unknown uids are named by their number.
  std::string name;
  std::ifstream in("/etc/passwd");
  std::string line;
  while (std::getline(in, line)) {
    const auto c1 = line.find(':');
    const auto c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
    const auto c3 = c2 == std::string::npos ? c2 : line.find(':', c2 + 1);
    if (c3 == std::string::npos) {
      continue;
    }
    std::uint32_t id = 0;
    const auto* first = line.data() + c2 + 1;
    const auto* last = line.data() + c3;
    if (std::from_chars(first, last, id).ptr == last && id == uid) {
      name = line.substr(0, c1);
      break;
    }
  }
  if (name.empty()) {
    name = std::to_string(uid);
  }
  auto& slot = users_[users_n_ < users_.size() ? users_n_++ : uid % users_.size()];
  slot.uid = uid;
  slot.name = std::move(name);
  return slot.name;
}

bool RuleEventBuilder::build(const Event& e, const ProcessTable& table, sigma::RuleEvent& out,
                             const ExecLinks& links, const HostRelation& host) {
  static_assert(kNumberSlotCount <= kNumberSlots);
  out.clear();
  // Which container, pod and namespaces: only what is known is present.
  auto context = [&] {
    if (e.container != nullptr) {
      const ContainerInfo& c = *e.container;
      out.set(Field::kContainerId, c.id);
      auto set_known = [&](Field f, std::string_view v) {
        if (!v.empty()) {
          out.set(f, v);
        }
      };
      set_known(Field::kContainerName, c.name);
      set_known(Field::kContainerImage, c.image);
      const auto [repository, tag] = split_image(c.image);
      set_known(Field::kContainerImageRepo, repository);
      set_known(Field::kContainerImageTag, tag);
      set_known(Field::kContainerRuntime, c.runtime);
      set_known(Field::kK8sPod, c.pod);
      set_known(Field::kK8sPodUid, c.pod_uid);
      set_known(Field::kK8sNs, c.k8s_ns);
    }
    if (e.ns.known()) {
      out.set(Field::kHostNs, e.host_ns ? "true" : "false");
      const auto inodes = ns_inodes(e.ns);
      for (std::size_t i = 0; i < inodes.size(); ++i) {
        if (inodes[i] != 0) {
          out.set(kNsFields[i], number(kNsMntSlot + i, inodes[i]));
        }
      }
      if (e.ns.ns_pid != 0) {
        out.set(Field::kNsPidInNs, number(kNsPidInNsSlot, e.ns.ns_pid));
      }
    }
    auto set_present = [&](Field f, std::string_view v) {
      if (HostRelation::present(v)) {
        out.set(f, v);
      }
    };
    set_present(Field::kNsHost, host.ns_host);
    set_present(Field::kContainerHostNs, host.container_host_ns);
    set_present(Field::kContainerHostCaps, host.container_host_caps);
  };
  // Fields every category has: the acting process.
  auto common = [&] {
    out.set(Field::kImage, e.exe);
    out.set(Field::kComm, e.comm);
    out.set(Field::kProcessId, number(kPid, e.pid));
    out.set(Field::kParentProcessId, number(kPpid, e.ppid));
    out.set(Field::kUid, number(kUid, e.uid));
    out.set(Field::kEuid, number(kEuid, e.euid));
    out.set(Field::kUser, user_name(e.uid));
    out.set(Field::kEventType, to_string(e.type));
    join_args(e.args, command_line_);
    if (!e.args.empty()) {
      out.set(Field::kCommandLine, command_line_);
    }
    const auto* self = table.find(e.pid);
    if (self != nullptr && !self->cwd.empty()) {
      out.set(Field::kCurrentDirectory, self->cwd);
    }
    // The login uid: the exec's own, else the process table's (unset: absent).
    const auto* exec = std::get_if<ExecData>(&e.data);
    const std::uint32_t loginuid = exec != nullptr   ? exec->loginuid
                                   : self != nullptr ? self->loginuid
                                                     : 0xFFFFFFFFU;
    if (loginuid != 0xFFFFFFFFU) {
      out.set(Field::kLogonId, number(kLoginUid, loginuid));
    }
    if (const auto* parent = table.find(e.ppid); parent != nullptr) {
      if (!parent->exe.empty()) {
        out.set(Field::kParentImage, parent->exe);
      }
      join_args(parent->args, parent_command_line_);
      if (!parent->args.empty()) {
        out.set(Field::kParentCommandLine, parent_command_line_);
      }
    }
    context();
  };
  auto target = [&](std::uint32_t pid) {
    out.set(Field::kTargetProcessId, number(kTargetPid, pid));
    if (const auto* t = table.find(pid); t != nullptr && !t->exe.empty()) {
      out.set(Field::kTargetImage, t->exe);
    }
  };
  switch (e.type) {
    case EventType::kExec:
      out.category = Category::kProcessCreation;
      common();
      if (!links.stdin_image.empty()) {
        out.set(Field::kStdinImage, links.stdin_image);
        out.set(Field::kStdinCommandLine, links.stdin_command_line);
      }
      if (!links.stdout_image.empty()) {
        out.set(Field::kStdoutImage, links.stdout_image);
      }
      return true;
    case EventType::kFile: {
      const auto& f = std::get<FileData>(e.data);
      if (f.ret != 0) {
        return false;  // refused: nothing changed, nothing read
      }
      common();
      out.set(Field::kRequest, file_op_name(f.op));
      if (HostRelation::present(host.host_filesystem)) {
        out.set(Field::kHostFilesystem, host.host_filesystem);
      }
      switch (f.op) {
        case VIGIL_FILE_READ_SENSITIVE:
          out.category = Category::kFileAccess;
          out.set(Field::kTargetFilename, f.path);
          return true;
        case VIGIL_FILE_UNLINK:
          out.category = Category::kFileDelete;
          out.set(Field::kTargetFilename, f.path);
          return true;
        case VIGIL_FILE_RENAME:
          out.category = Category::kFileRename;
          out.also = Category::kFileEvent;
          out.set(Field::kTargetFilename, f.new_path.empty() ? f.path : f.new_path);
          out.set(Field::kSourceFilename, f.path);
          return true;
        case VIGIL_FILE_CHMOD: {
          out.category = Category::kFileChange;
          out.also = Category::kFileEvent;
          out.set(Field::kTargetFilename, f.path);
          const auto r = std::to_chars(mode_, mode_ + sizeof(mode_) - 1, f.mode & 07777U, 8);
          out.set(Field::kFileMode,
                  std::string_view(mode_, static_cast<std::size_t>(r.ptr - mode_)));
          return true;
        }
        case VIGIL_FILE_CREATE:
          out.category = Category::kFileEvent;
          out.set(Field::kTargetFilename, f.path);
          return true;
        default:  // write, truncate
          out.category = Category::kFileChange;
          out.also = Category::kFileEvent;
          out.set(Field::kTargetFilename, f.path);
          return true;
      }
    }
    case EventType::kConnect:
    case EventType::kAccept:
    case EventType::kListen: {
      const auto& s = std::get<SockData>(e.data);
      if (s.ret < 0 && s.ret != -115 /* EINPROGRESS */) {
        return false;
      }
      out.category = Category::kNetworkConnection;
      common();
      out.set(Field::kInitiated, e.type == EventType::kConnect ? "true" : "false");
      out.set(Field::kProtocol, s.proto == 17 ? "udp" : "tcp");
      if (!s.laddr.empty()) {
        out.set(Field::kSourceIp, s.laddr);
      }
      out.set(Field::kSourcePort, number(kSrcPort, s.lport));
      if (e.type != EventType::kListen) {
        if (!s.raddr.empty()) {
          out.set(Field::kDestinationIp, s.raddr);
        }
        out.set(Field::kDestinationPort, number(kDstPort, s.rport));
      }
      return true;
    }
    case EventType::kPtrace: {
      const auto& p = std::get<PtraceData>(e.data);
      if (p.ret != 0) {
        return false;
      }
      out.category = Category::kPtrace;
      common();
      out.set(Field::kRequest, ptrace_request_name(p.request));
      target(p.target_pid);
      return true;
    }
    case EventType::kWxMemory:
    case EventType::kExecAdded:
      if (std::get<MemProtData>(e.data).ret != 0) {
        return false;
      }
      out.category = Category::kMemory;
      common();
      out.set(Field::kRequest, memory_request(e.type));
      if (std::get<MemProtData>(e.data).anon == VIGIL_MAP_ANON) {
        out.set(Field::kTargetFilename, "");  // anonymous: present but empty
      } else if (!std::get<MemProtData>(e.data).file.empty()) {
        out.set(Field::kTargetFilename, std::get<MemProtData>(e.data).file);
      }
      return true;
    case EventType::kMemfd:
    case EventType::kFilelessExec:
      out.category = Category::kMemory;
      common();
      out.set(Field::kRequest, memory_request(e.type));
      if (e.type == EventType::kFilelessExec) {
        out.set(Field::kTargetFilename, std::get<FilelessExecData>(e.data).filename);
      }
      return true;
    case EventType::kInject: {
      const auto& i = std::get<InjectData>(e.data);
      if (i.ret != 0) {
        return false;
      }
      out.category = Category::kMemory;
      common();
      out.set(Field::kRequest,
              i.method == VIGIL_INJECT_VM_WRITEV ? "process_vm_writev" : "proc_mem_write");
      target(i.target_pid);
      if (!i.path.empty()) {
        out.set(Field::kTargetFilename, i.path);
      }
      return true;
    }
    case EventType::kSetuid:
    case EventType::kSetgid:
    case EventType::kCapset: {
      const auto& s = std::get<SetidData>(e.data);
      if (s.ret != 0) {
        return false;
      }
      out.category = Category::kPrivilege;
      common();
      out.set(Field::kRequest, setid_syscall_name(s.syscall));
      return true;
    }
    case EventType::kCrashStorm:
      out.category = Category::kProcessTermination;
      common();
      return true;
    case EventType::kNsChange: {
      const auto& n = std::get<NsChangeData>(e.data);
      if (n.ret != 0) {
        return false;  // refused: the namespaces did not change
      }
      out.category = Category::kNamespaceChange;
      common();
      out.set(Field::kRequest, n.syscall == VIGIL_SYS_SETNS ? "setns" : "unshare");
      if (HostRelation::present(host.ns_entered_host)) {
        out.set(Field::kNsEnteredHost, host.ns_entered_host);
      }
      return true;
    }
    default:
      return false;
  }
}

}  // namespace vigil::agent
