//! The inner stage of confinement on Linux (`pp __isolate --confine --rw DIR… -- CMD…`), run
//! by bubblewrap inside the namespaces it built: closes every descriptor but stdio, restricts
//! writes to the `--rw` trees with Landlock (best effort: what the kernel offers), installs the
//! seccomp filter (required), then the caller executes the command. See `confine.rs`.

use std::collections::BTreeMap;

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, Scope, path_beneath_rules,
};
use nix::libc;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::confine::Layers;

/// Namespace flags a confined process may not ask `clone`/`unshare` for.
const NAMESPACE_FLAGS: &[libc::c_int] = &[
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWCGROUP,
];

/// Calls refused outright (EPERM): mounting and namespaces, tracing other processes, the
/// kernel keyring, bpf, kernel modules and other host-wide switches.
const DENIED: &[libc::c_long] = &[
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_setns,
    libc::SYS_open_tree,
    libc::SYS_move_mount,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_open_by_handle_at,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
];

/// Applies every layer the inner stage owns. Fails only when a required one cannot be had.
pub fn apply(rw: &[String]) -> Result<Layers, String> {
    let fds = close_inherited_fds();
    let landlock = landlock(rw);
    seccomp()?;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    Ok(Layers {
        engine: "bubblewrap".into(),
        // The command is the namespace's second process (bubblewrap's init is the first).
        pid_namespace: std::process::id() <= 2,
        // Filled in by the caller, which built them.
        mount_namespace: false,
        network_namespace: false,
        user_namespace: false,
        no_new_privs: field("NoNewPrivs:") == "1",
        capabilities: if field("CapEff:").trim_start_matches('0').is_empty() {
            "none".into()
        } else {
            format!("effective {}", field("CapEff:"))
        },
        seccomp: "filter".into(),
        landlock,
        inherited_fds_closed: fds,
    })
}

/// Closes every descriptor above stderr: whatever pp or its parent left open (a CI runner's
/// pipe, a socket) never reaches the command.
#[expect(unsafe_code, reason = "close_range has no safe wrapper in nix or std")]
fn close_inherited_fds() -> bool {
    // SAFETY: close_range only closes descriptors; nothing in this single-threaded stage holds
    // one above 2 that it uses afterwards.
    unsafe { libc::close_range(3, libc::c_uint::MAX, 0) == 0 }
}

fn landlock(rw: &[String]) -> String {
    let abi = ABI::V6;
    let ruleset = || -> Result<RulesetStatus, landlock::RulesetError> {
        let created = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(AccessFs::from_all(abi))?
            .scope(Scope::AbstractUnixSocket)?
            .create()?
            .add_rules(path_beneath_rules(["/"], AccessFs::from_read(abi)))?
            .add_rules(path_beneath_rules(rw, AccessFs::from_all(abi)))?;
        Ok(created.restrict_self()?.ruleset)
    };
    match ruleset() {
        Ok(RulesetStatus::FullyEnforced) => "fully_enforced".into(),
        Ok(RulesetStatus::PartiallyEnforced) => "partially_enforced".into(),
        Ok(RulesetStatus::NotEnforced) => "unsupported_by_kernel".into(),
        Err(e) => format!("failed: {e}"),
    }
}

fn seccomp() -> Result<(), String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| format!("no seccomp filter for {}: {e}", std::env::consts::ARCH))?;
    // clone3 passes its flags in memory a filter cannot read: refuse it as unimplemented, so
    // libc falls back to clone, whose flags are checked below.
    let clone3 = program(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|&nr| (nr, Vec::new())).collect();
    let flag_rules = |arg: u8| -> Result<Vec<SeccompRule>, String> {
        NAMESPACE_FLAGS
            .iter()
            .map(|&f| {
                let f = f as u64;
                let cond = SeccompCondition::new(
                    arg,
                    SeccompCmpArgLen::Qword,
                    SeccompCmpOp::MaskedEq(f),
                    f,
                )
                .map_err(|e| e.to_string())?;
                SeccompRule::new(vec![cond]).map_err(|e| e.to_string())
            })
            .collect()
    };
    rules.insert(libc::SYS_clone, flag_rules(0)?);
    rules.insert(libc::SYS_unshare, flag_rules(0)?);
    // TIOCSTI pushes bytes into a terminal's input: refused whatever terminal is reachable.
    #[allow(
        clippy::unnecessary_cast,
        reason = "TIOCSTI's type differs between targets"
    )]
    let tiocsti = SeccompCondition::new(
        1,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        libc::TIOCSTI as u64,
    )
    .map_err(|e| e.to_string())?;
    rules.insert(
        libc::SYS_ioctl,
        vec![SeccompRule::new(vec![tiocsti]).map_err(|e| e.to_string())?],
    );
    let main = program(rules, SeccompAction::Errno(libc::EPERM as u32), arch)?;
    for p in [&clone3, &main] {
        seccompiler::apply_filter(p)
            .map_err(|e| format!("cannot install the seccomp filter: {e}"))?;
    }
    Ok(())
}

fn program(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    on_match: SeccompAction,
    arch: TargetArch,
) -> Result<BpfProgram, String> {
    SeccompFilter::new(rules, SeccompAction::Allow, on_match, arch)
        .and_then(BpfProgram::try_from)
        .map_err(|e| format!("cannot build the seccomp filter: {e}"))
}
