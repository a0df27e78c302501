//! `pp completions SHELL` and the hidden `pp man`: shell completions (`clap_complete`) and man
//! pages (`clap_mangen`) generated at run time from the same clap definitions that parse the
//! command line, so they cannot drift from it and the build needs no script.

use clap::CommandFactory;

use super::args::{Cli, CompletionsArgs, ManArgs};
use super::output;
use crate::console::outln;
use crate::error::Error;
use crate::report::{COMPLETIONS_SCHEMA, CompletionsDocument, MAN_SCHEMA, ManDocument};

/// `pp completions SHELL`: the completion script on stdout.
pub(super) fn completions(a: CompletionsArgs) -> Result<u8, Error> {
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "pp", &mut buf);
    let script = String::from_utf8_lossy(&buf);
    if a.json {
        output::print_json(&CompletionsDocument {
            schema_version: COMPLETIONS_SCHEMA,
            success: true,
            shell: a.shell.to_string(),
            script: script.into_owned(),
        })?;
    } else {
        outln!("{}", script.trim_end())?;
    }
    Ok(0)
}

/// `pp man`: pp.1 on stdout, or with `--out-dir` every page written there.
pub(super) fn man(a: ManArgs) -> Result<u8, Error> {
    let cmd = Cli::command();
    let Some(dir) = a.out_dir else {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut buf)
            .map_err(|e| Error::Io {
                what: "render the man page".into(),
                source: e,
            })?;
        let page = String::from_utf8_lossy(&buf);
        if a.json {
            output::print_json(&ManDocument {
                schema_version: MAN_SCHEMA,
                success: true,
                page: Some(page.into_owned()),
                dir: None,
                files: None,
            })?;
        } else {
            outln!("{}", page.trim_end())?;
        }
        return Ok(0);
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::Usage {
        message: format!("cannot create {}: {e}", dir.display()),
        hint: "pass --out-dir a folder you can write to".into(),
    })?;
    clap_mangen::generate_to(cmd, &dir).map_err(|e| Error::Usage {
        message: format!("cannot write the man pages into {}: {e}", dir.display()),
        hint: "pass --out-dir a folder you can write to".into(),
    })?;
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".1"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    if a.json {
        output::print_json(&ManDocument {
            schema_version: MAN_SCHEMA,
            success: true,
            page: None,
            dir: Some(dir),
            files: Some(files),
        })?;
    } else {
        for f in &files {
            outln!("{}", dir.join(f).display())?;
        }
    }
    Ok(0)
}
