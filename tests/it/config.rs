//! Configuration precedence (flags > BINDERY_* env > --config TOML file), validation naming the
//! key, and `bindery config print` with secrets redacted — through the real binary.

use std::process::Command;

use crate::dev::bindery_bin;

fn print(config: &std::path::Path, env: &[(&str, &str)], flags: &[&str]) -> (bool, String) {
    let out = Command::new(bindery_bin())
        .arg("--config")
        .arg(config)
        .args(["config", "print", "primary"])
        .args(flags)
        .env_remove("BINDERY_POOL_SIZE")
        .envs(env.iter().copied())
        .output()
        .expect("run bindery");
    (
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn flags_beat_env_beat_the_file_and_secrets_stay_hidden() {
    let dir = std::env::temp_dir().join(format!("bindery-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bindery.toml");
    std::fs::write(
        &file,
        "database_url = \"postgres://bindery:s3cret@db:5432/bindery\"\npool_size = 4\n\
         [primary]\npool-size = 8\ns3_access_key_id = \"AKIA\"\ns3_secret_access_key = \"hunter2\"\n",
    )
    .unwrap();

    let (ok, out) = print(&file, &[], &[]);
    assert!(ok, "{out}");
    assert!(out.contains("pool_size: 8,"), "the [primary] table wins over the top level: {out}");
    assert!(out.contains("postgres://bindery:***@db:5432/bindery"), "{out}");
    assert!(!out.contains("s3cret") && !out.contains("hunter2"), "a secret was printed: {out}");
    let (_, out) = print(&file, &[("BINDERY_POOL_SIZE", "3")], &[]);
    assert!(out.contains("pool_size: 3,"), "env beats the file: {out}");
    let (_, out) = print(&file, &[("BINDERY_POOL_SIZE", "3")], &["--pool-size", "2"]);
    assert!(out.contains("pool_size: 2,"), "a flag beats env: {out}");

    // A shared key another role uses is fine; in this role's own table it is not.
    std::fs::write(&file, "max_staleness_secs = 5\n").unwrap();
    assert!(print(&file, &[], &[]).0, "a reader setting at the top level broke the primary");
    std::fs::write(&file, "[primary]\nmax_staleness_secs = 5\n").unwrap();
    let (ok, out) = print(&file, &[], &[]);
    assert!(!ok && out.contains("unknown key 'max_staleness_secs'"), "{out}");

    std::fs::write(&file, "pool_size = 5000\n").unwrap();
    let (ok, out) = print(&file, &[], &[]);
    assert!(!ok && out.contains("pool_size must be between 1 and 1000"), "{out}");
    std::fs::write(&file, "pool_sise = 5\n").unwrap();
    let (ok, out) = print(&file, &[], &[]);
    assert!(!ok && out.contains("unknown key 'pool_sise'"), "{out}");
    std::fs::write(&file, "pool_size = [1]\n").unwrap();
    let (ok, out) = print(&file, &[], &[]);
    assert!(!ok && out.contains("key 'pool_size' has an unsupported value"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every form a password can take in a connection string stays hidden from `config print`, and
/// `--help` never shows the environment's database URL.
#[test]
fn database_passwords_stay_hidden_in_every_form() {
    let dir = std::env::temp_dir().join(format!("bindery-config-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bindery.toml");
    std::fs::write(&file, "pool_size = 4\n").unwrap();
    for url in [
        "postgres://bindery@db:5432/bindery?password=hunter2&sslmode=require",
        "host=db user=bindery password='hunter2 x' dbname=bindery",
        "postgres://bindery:hunter2@db/bindery",
    ] {
        let (_, out) = print(&file, &[("BINDERY_DATABASE_URL", url)], &[]);
        assert!(out.contains("***") && !out.contains("hunter2"), "{url} printed as: {out}");
    }
    for argv in [&["primary", "--help"][..], &["migrate", "--help"], &["token", "create", "--help"]] {
        let out = Command::new(bindery_bin())
            .args(argv)
            .env("BINDERY_DATABASE_URL", "postgres://bindery:hunter2@db/bindery")
            .output()
            .expect("run bindery");
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("--database-url") && !text.contains("hunter2"), "{argv:?}: {text}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `--gc-grace-secs` below a minute is refused: object times come from the store's clock.
#[test]
fn gc_grace_has_a_floor() {
    let out = Command::new(bindery_bin())
        .args(["config", "print", "primary", "--gc-grace-secs", "5"])
        .output()
        .expect("run bindery");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("60.."), "{text}");
}
