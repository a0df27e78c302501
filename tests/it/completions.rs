//! `pp completions SHELL` and `pp man`: generated from the clap definitions, so they list every
//! command the binary parses.

use crate::support::*;

const COMMANDS: [&str; 9] = [
    "run",
    "prove",
    "replay",
    "attest",
    "verify-attestation",
    "doctor",
    "show",
    "gc",
    "completions",
];

#[test]
fn completions_list_the_commands_for_every_shell() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let out = env.pp(&["completions", "bash"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let bash = String::from_utf8_lossy(&out.stdout);
    assert!(bash.contains("complete -F _pp"), "{bash}");
    for c in COMMANDS {
        assert!(bash.contains(&format!("pp,{c})")), "{c} missing");
    }
    // Flags of a command complete too.
    assert!(bash.contains("--older-than") && bash.contains("--html"));
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = env.pp(&["completions", shell]);
        assert_eq!(code(&out), 0, "{shell}: {}", stderr(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("verify-attestation") && script.contains("gc"),
            "{shell}"
        );
    }
    let v = json_out(&env.pp(&["completions", "fish", "--json"]));
    assert_eq!(v["schema_version"], "pp.completions/v1");
    assert!(v["script"].as_str().unwrap().contains("complete -c pp"));
    let out = env.pp(&["completions", "tcsh"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("tcsh"), "{}", stderr(&out));
}

#[test]
fn man_page_lists_the_commands() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let out = env.pp(&["man"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH pp 1"),
        "{page}"
    );
    assert!(page.contains(".TH pp 1"), "{page}");
    for c in COMMANDS {
        // roff writes `-` as `\-`.
        assert!(
            page.contains(&c.replace('-', "\\-")),
            "{c} missing from the man page"
        );
    }
    let dir = env.scratch.path().join("man1");
    let out = env.pp(&["man", "--out-dir", dir.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let files = json_out(&out)["files"].to_string();
    for c in ["pp.1", "pp-show.1", "pp-gc.1", "pp-verify-attestation.1"] {
        assert!(files.contains(c), "{c} not in {files}");
        assert!(dir.join(c).is_file());
    }
    // The hidden command stays out of the help.
    let help = String::from_utf8_lossy(&env.pp(&["--help"]).stdout).into_owned();
    assert!(
        help.contains("completions") && !help.contains("  man "),
        "{help}"
    );
}
