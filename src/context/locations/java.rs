//! JVM stack traces (`at com.acme.Invoice.total(Invoice.java:17)`), as printed by uncaught
//! exceptions, JUnit, Maven Surefire and Gradle. The frame names the class, so the path is the
//! package's folders plus the file name (`com/acme/Invoice.java`); `build` finds the source
//! root (`src/main/java`, …) it lives under.

use crate::context::location::Location;
use crate::context::paths::PathMap;
use crate::context::pattern::{compile, num};
use regex::Regex;
use std::sync::LazyLock;

static FRAME: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^\s*at (?:([\w.-]+(?:@[\w.-]+)?)/)?([\w$.]+)\.[\w$<>-]+\(([\w$-]+\.(?:java|kt|scala|groovy)):(\d+)\)\s*$",
    )
});
static EXCEPTION: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^(?:Exception in thread .*?|Caused by:)\s*([\w.$]+(?:Exception|Error|Throwable)\b.*)$|^\s*([\w.$]+(?:Exception|Error)(?:: .*)?)$",
    )
});

/// Packages of the JDK, test frameworks and build tools: their frames are never edit targets.
const FOREIGN: &[&str] = &[
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "com.sun.",
    "kotlin.",
    "kotlinx.",
    "scala.",
    "groovy.",
    "org.junit.",
    "junit.",
    "org.opentest4j.",
    "org.apache.maven.",
    "org.gradle.",
    "worker.org.gradle.",
];

pub(crate) fn parse(text: &str, map: &PathMap) -> Vec<Location> {
    let mut found = Vec::new();
    let mut message: Option<String> = None;
    for line in text.lines() {
        if let Some(caps) = FRAME.captures(line) {
            let class = &caps[2];
            let file = &caps[3];
            let package_dirs = class
                .rsplit_once('.')
                .map(|(package, _)| package.replace('.', "/"));
            let path = match &package_dirs {
                Some(dirs) => format!("{dirs}/{file}"),
                None => file.to_string(),
            };
            // A module prefix (`java.base/`) marks a JDK frame as surely as the package does.
            let foreign = caps.get(1).is_some() || FOREIGN.iter().any(|p| class.starts_with(p));
            if let Some(mut loc) = Location::new(
                map,
                &path,
                num(&caps[4]).unwrap_or(0),
                None,
                "java",
                message.take(),
            ) {
                loc.in_workspace &= !foreign;
                found.push(loc);
            }
        } else if let Some(caps) = EXCEPTION.captures(line) {
            message = caps
                .get(1)
                .or_else(|| caps.get(2))
                .map(|m| m.as_str().trim().to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_become_package_paths() {
        let out = "Exception in thread \"main\" java.lang.ArithmeticException: / by zero\n\tat com.acme.Invoice.average(Invoice.java:17)\n\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)\n\tat org.junit.runners.ParentRunner.run(ParentRunner.java:413)\n\tat com.acme.Main$1.run(Main.java:8)\n";
        let locs = parse(out, &PathMap::local("/w"));
        let got: Vec<_> = locs
            .iter()
            .map(|l| (l.path.as_str(), l.line, l.in_workspace))
            .collect();
        assert_eq!(
            got,
            vec![
                ("com/acme/Invoice.java", 17, true),
                (
                    "jdk/internal/reflect/DirectMethodHandleAccessor.java",
                    103,
                    false
                ),
                ("org/junit/runners/ParentRunner.java", 413, false),
                ("com/acme/Main.java", 8, true),
            ]
        );
        assert_eq!(
            locs[0].message.as_deref(),
            Some("java.lang.ArithmeticException: / by zero")
        );
    }
}
