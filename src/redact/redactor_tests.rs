//! Redaction cases: secrets that must go, and ordinary text that must stay untouched.

use super::*;

/// One default redactor for all cases: building one compiles every pattern.
fn r() -> &'static Redactor {
    static SHARED: std::sync::LazyLock<Redactor> = std::sync::LazyLock::new(Redactor::default);
    &SHARED
}

/// Asserts that `text` is redacted to exactly `expected`.
#[track_caller]
fn redacts(text: &str, expected: &str) {
    assert_eq!(r().redact(text), expected, "input: {text}");
}

/// Asserts that `text` passes through unchanged (and borrowed).
#[track_caller]
fn keeps(text: &str) {
    let out = r().redact(text);
    assert!(
        matches!(out, Cow::Borrowed(_)),
        "redacted {text:?} to {out:?}"
    );
}

#[test]
fn provider_keys() {
    redacts(
        "key is sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHijkl.",
        "key is [REDACTED:openai_key].",
    );
    redacts(
        "OPENAI=sk-proj-Ab3dEf_Gh1jKlMnOpQrStUvWxYz-0123456789",
        "OPENAI=[REDACTED:openai_key]",
    );
    redacts(
        "x sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AA y",
        "x [REDACTED:anthropic_key] y",
    );
    redacts(
        "token ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 here",
        "token [REDACTED:github_token] here",
    );
    redacts(
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
        "[REDACTED:github_token]",
    );
    redacts(
        "gho_16C7e42F292c6912E7710c838347Ae178B4a",
        "[REDACTED:github_token]",
    );
    redacts(
        "id AKIAIOSFODNN7EXAMPLE,",
        "id [REDACTED:aws_access_key_id],",
    );
    redacts("ASIAY34FZKBOKMUTVV7A", "[REDACTED:aws_access_key_id]");
    redacts(
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "[REDACTED:slack_token]",
    );
}

#[test]
fn aws_secret_after_its_name() {
    redacts(
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        "aws_secret_access_key = [REDACTED:aws_secret_key]\n",
    );
    redacts(
        "AWS_SECRET_ACCESS_KEY=\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"",
        "AWS_SECRET_ACCESS_KEY=\"[REDACTED:aws_secret_key]\"",
    );
}

#[test]
fn jwt() {
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    redacts(
        &format!("cookie: session={jwt};"),
        "cookie: session=[REDACTED:jwt];",
    );
}

#[test]
fn private_key_blocks() {
    let text = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1b2c3\nabc+/=\n-----END RSA PRIVATE KEY-----\nafter";
    redacts(text, "before\n[REDACTED:private_key]\nafter");
    redacts(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
        "[REDACTED:private_key]",
    );
    // A block cut off by a truncated log ends with its last whole base64 line.
    redacts(
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\nAQEFAASC\nTraceback (most recent call last):",
        "[REDACTED:private_key]\nTraceback (most recent call last):",
    );
    // Public keys and certificates are not secret.
    keeps("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----");
}

#[test]
fn authorization_headers() {
    redacts(
        "Authorization: Bearer abc.def-123_XYZ",
        "Authorization: [REDACTED:authorization]",
    );
    redacts(
        "curl -H 'authorization: Basic dXNlcjpwYXNzd29yZA==' http://x",
        "curl -H 'authorization: [REDACTED:authorization]' http://x",
    );
    redacts(
        r#"headers = {"Authorization": "token 0123456789abcdef0123"}"#,
        r#"headers = {"Authorization": "[REDACTED:authorization]"}"#,
    );
    // A variable, not a value.
    keeps(r#"curl -H "Authorization: Bearer $GITHUB_TOKEN" https://api.github.com"#);
    keeps("headers['Authorization'] = f'Bearer {token}'");
}

#[test]
fn url_credentials() {
    redacts(
        "DATABASE_URL=postgres://app:s3cr3t-pw@db.internal:5432/app",
        "DATABASE_URL=postgres://app:[REDACTED:url_password]@db.internal:5432/app",
    );
    redacts(
        "git clone https://user:hunter2@github.com/o/r.git",
        "git clone https://user:[REDACTED:url_password]@github.com/o/r.git",
    );
    keeps("ssh://git@github.com:22/o/r.git and http://localhost:8080/x@y");
    keeps("postgres://app:${DB_PASSWORD}@db/app");
}

#[test]
fn assignments_with_literal_values() {
    redacts("password=hunter2", "password=[REDACTED:password]");
    redacts(
        "DB_PASSWORD=correct-horse",
        "DB_PASSWORD=[REDACTED:password]",
    );
    redacts("passwd: hunter22", "passwd: [REDACTED:password]");
    redacts(
        r#"config = {"api_key": "abcd1234efgh"}"#,
        r#"config = {"api_key": "[REDACTED:api_key]"}"#,
    );
    redacts(
        "SECRET_KEY = 'django-insecure-x'",
        "SECRET_KEY = '[REDACTED:secret]'",
    );
    redacts(
        "GET /cb?code=1&token=abcdef123&state=x",
        "GET /cb?code=1&token=[REDACTED:token]&state=x",
    );
    redacts(
        "mysql --password=hunter2 db",
        "mysql --password=[REDACTED:password] db",
    );
    redacts("secret=topsecret", "secret=[REDACTED:secret]");
}

#[test]
fn assignments_that_are_code() {
    for code in [
        "token = get_token()",
        "password: str",
        "password: Option<String>,",
        "self.token = token",
        "secret = os.environ[\"SECRET\"]",
        "api_key = settings.OPENAI_API_KEY",
        "login(user, password=password)",
        "let token = Token::new(kind);",
        "const token = await fetchToken();",
        "password = None",
        "if password == \"\":",
        "assert token == expected_token",
        "max_tokens=2000, num_tokens: 5",
        "token: ${{ secrets.GITHUB_TOKEN }}",
        "PASSWORD=$DB_PASSWORD",
        "password = \"\"",
        "api_key = \"<your key here>\"",
        "PASSWORD_FILE=/run/secrets/db",
        "fn check(password: &str) -> bool",
    ] {
        keeps(code);
    }
}

#[test]
fn high_entropy_tokens() {
    redacts(
        "value 7Fq2kLpZ9xWc3VbN8mQr1TsY6uHj0GdE4aKo end",
        "value [REDACTED:high_entropy] end",
    );
    redacts(
        "b64 dGhpc0lzQVNlY3JldEtleTEyMzQ1Njc4OTBBQkNERUY= x",
        "b64 [REDACTED:high_entropy] x",
    );
}

#[test]
fn ordinary_text_is_untouched() {
    keeps(
        "fn build_request_body(cfg: &HttpConfig, messages: &[ChatMessage]) -> Value {\n    let x = 1;\n}",
    );
    keeps("src/propose/openai/client.rs:42:17: error[E0308]: mismatched types");
    keeps("/home/user/projects/SomeProject2/src/main/java/com/example/Service.java");
    keeps("test tests::regression_3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39 ... FAILED");
    keeps("commit 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39\nAuthor: A <a@b.c>");
    keeps("image@sha256:9b2d4f0c1a3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d");
    keeps(
        r#""integrity": "sha512-Kq5sNclPz7QV2+lfQIuyEhGgA8fC7JHvB9FBQ1kNrZYWp0HGeqCvQn0B+Xc/Qp9c1T==""#,
    );
    keeps("uuid 123e4567-e89b-12d3-a456-426614174000");
    keeps("AbstractSingletonProxyFactoryBean2Test HttpResponse2xxHandlerFactoryBeanImpl");
    keeps("thisIsAVeryLongCamelCaseVariableName1 getUserByIdAndOrganizationId2");
    keeps("MAX_RETRY_ATTEMPTS_FOR_UPLOAD_V2_CLIENT test_handles_unicode_in_utf8_filenames_v2");
    keeps("AssertionError: assert 1 == 2\n  where 1 = add(0, 1)\nE   token expected");
    keeps("The task-runner-for-long-running-jobs-and-more is sk-learn compatible");
    keeps("");
}

#[test]
fn secret_values_from_the_environment() {
    let red = Redactor::from_env_vars([
        (
            "PP_OPENAI_API_KEY".to_owned(),
            "plainvalue-no-shape".to_owned(),
        ),
        ("DB_PASSWD".to_owned(), "lettersonly".to_owned()),
        ("GH_TOKEN".to_owned(), "short".to_owned()),
        ("HOME".to_owned(), "/home/user".to_owned()),
        ("AUTH_TIMEOUT".to_owned(), "300000".to_owned()),
        ("KEYBOARD".to_owned(), "us-intl-layout".to_owned()),
    ]);
    assert_eq!(red.secret_count(), 2);
    assert_eq!(
        red.redact("connect with plainvalue-no-shape as lettersonly from /home/user, short"),
        "connect with [REDACTED:env:PP_OPENAI_API_KEY] as [REDACTED:env:DB_PASSWD] from /home/user, short"
    );
    assert_eq!(red.redact("us-intl-layout 300000"), "us-intl-layout 300000");
}

#[test]
fn explicit_secret_values() {
    let red = Redactor::new(["my-little-secret".to_owned(), "tiny".to_owned()]);
    assert_eq!(red.secret_count(), 1);
    assert_eq!(
        red.redact("a my-little-secret b tiny"),
        "a [REDACTED:secret_value] b tiny"
    );
}

#[test]
fn overlapping_finds_are_merged() {
    // The env value covers part of an OpenAI key; the union is redacted once.
    let key = "sk-proj-Ab3dEf_Gh1jKlMnOpQrStUvWxYz0123456789";
    let red = Redactor::new([key[10..30].to_owned()]);
    let text = format!("k={key}!");
    assert_eq!(red.redact(&text), "k=[REDACTED:openai_key]!");
    let found = red.findings(&text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].range, 2..2 + key.len());
}

#[test]
fn redaction_is_idempotent() {
    let text = "password=hunter2 Authorization: Bearer abcdefghijklmnop1234 sk-abcdefghijklmnopqrstuvwxyz0123456789";
    let red = r();
    let once = red.redact(text).into_owned();
    let twice = red.redact(&once);
    assert_eq!(twice, once);
    assert!(matches!(twice, Cow::Borrowed(_)));
}

#[test]
fn debug_does_not_print_secrets() {
    let red = Redactor::new(["my-little-secret".to_owned()]);
    let dbg = format!("{red:?}");
    assert!(!dbg.contains("my-little-secret"), "{dbg}");
}

#[test]
fn multibyte_text_around_secrets() {
    redacts(
        "ключ password=hunter2 ✓",
        "ключ password=[REDACTED:password] ✓",
    );
}

#[test]
fn existing_markers_are_left_alone() {
    // A secret value that happens to occur inside a marker must not break the marker.
    let red = Redactor::new(["REDACTED:openai".to_owned()]);
    assert_eq!(red.redact("[REDACTED:openai_key]"), "[REDACTED:openai_key]");
    assert_eq!(
        red.redact("x REDACTED:openai y"),
        "x [REDACTED:secret_value] y"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// A registered secret never survives, whatever text surrounds it, and redacting never
        /// panics on arbitrary (multi-byte) input.
        #[test]
        fn registered_secret_never_survives(
            before in "\\PC{0,60}",
            after in "\\PC{0,60}",
            secret in "[A-Za-z0-9!@#%^*_+=-]{6,30}",
        ) {
            let red = Redactor::new([secret.clone()]);
            let text = format!("{before}{secret}{after}");
            let out = red.redact(&text);
            prop_assert!(!out.contains(secret.as_str()), "{out}");
        }

        #[test]
        fn arbitrary_text_does_not_panic(text in "\\PC{0,300}") {
            let _ = r().redact(&text);
        }
    }
}
