//! `--config FILE` (or `BINDERY_CONFIG`): a TOML file of settings, the lowest-precedence source.
//! Flags beat `BINDERY_*` environment variables, which beat the file.
//!
//! Keys are the flags' names with `_` or `-` (`database_url`, `pool-size`), at the top level or
//! in a table named after the role (`[primary]`, `[reader]`, `[dev]`, `[gc]`, `[migrate]`), whose
//! keys win over top-level ones for that role. Top-level keys are shared: each role takes those
//! it knows, and a key no role knows is an error naming it; in a role's table, a key that role
//! does not know is an error. The file's values are turned into command-line arguments placed
//! before the user's own, for settings neither given as a flag nor set in the environment.

use std::collections::BTreeMap;
use std::ffi::OsString;

use anyhow::{Context, bail};

/// The roles a config file can configure (the server subcommands).
const ROLES: &[&str] = &["primary", "reader", "dev", "gc", "migrate"];

/// `argv` with the config file's settings spliced in (unchanged when there is no file).
pub fn apply(argv: Vec<OsString>, command: &clap::Command) -> anyhow::Result<Vec<OsString>> {
    let args: Vec<String> = argv.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let Some(path) = config_path(&args) else { return Ok(argv) };
    // The role is the first role word: `bindery primary …`, or `bindery config print primary …`.
    let printing = args.get(1..).unwrap_or_default().iter().position(|a| a == "config").map(|i| i + 1);
    let from = printing.map_or(1, |i| i + 1);
    let Some((role_at, role)) = args.iter().enumerate().skip(from).find(|(_, a)| ROLES.contains(&a.as_str()))
    else {
        return Ok(argv); // a client command: the file configures servers only
    };
    let sub = match printing {
        Some(_) => command.find_subcommand("config").and_then(|c| c.find_subcommand("print")),
        None => Some(command),
    }
    .and_then(|c| c.find_subcommand(role))
    .with_context(|| format!("no subcommand {role}"))?;
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading config file {path}"))?;
    let settings = settings(&text, role, &path)?;
    let known_anywhere = known_keys_of_all_roles(command);
    let injected = injected_args(&settings, sub, command, &args, &path, &known_anywhere)?;
    let mut out = argv;
    let at = role_at + 1;
    out.splice(at..at, injected.into_iter().map(OsString::from));
    Ok(out)
}

fn config_path(args: &[String]) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().cloned();
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(p.to_owned());
        }
    }
    std::env::var("BINDERY_CONFIG").ok().filter(|p| !p.is_empty())
}

/// Long flag names any server role accepts.
fn known_keys_of_all_roles(command: &clap::Command) -> std::collections::BTreeSet<String> {
    ROLES
        .iter()
        .filter_map(|r| command.find_subcommand(r))
        .flat_map(|c| c.get_arguments().filter_map(|a| a.get_long().map(str::to_owned)).collect::<Vec<_>>())
        .collect()
}

/// Where a setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Shared,
    Role,
}

/// The file's settings for `role`: top-level keys, overridden by the role's table.
fn settings(text: &str, role: &str, path: &str) -> anyhow::Result<BTreeMap<String, (Scope, toml::Value)>> {
    let table: toml::Table = text.parse().with_context(|| format!("config file {path} is not valid TOML"))?;
    let mut out = BTreeMap::new();
    let mut role_table = None;
    for (key, value) in table {
        match value {
            toml::Value::Table(t) if ROLES.contains(&key.as_str()) => {
                if key == role {
                    role_table = Some(t);
                }
            }
            toml::Value::Table(_) => {
                bail!("config file {path}: unknown table [{key}] (roles: {})", ROLES.join(", "))
            }
            v => {
                out.insert(normalise(&key), (Scope::Shared, v));
            }
        }
    }
    for (key, value) in role_table.unwrap_or_default() {
        out.insert(normalise(&key), (Scope::Role, value));
    }
    Ok(out)
}

fn normalise(key: &str) -> String {
    key.replace('_', "-")
}

/// `--flag value` pairs for every setting not given as a flag or in the environment.
fn injected_args(
    settings: &BTreeMap<String, (Scope, toml::Value)>,
    sub: &clap::Command,
    root: &clap::Command,
    args: &[String],
    path: &str,
    known_anywhere: &std::collections::BTreeSet<String>,
) -> anyhow::Result<Vec<String>> {
    let known: BTreeMap<String, &clap::Arg> = sub
        .get_arguments()
        .chain(root.get_arguments().filter(|a| a.is_global_set()))
        .filter_map(|a| a.get_long().map(|l| (l.to_owned(), a)))
        .collect();
    let mut out = Vec::new();
    for (key, (scope, value)) in settings {
        if key == "config" {
            bail!("config file {path}: `config` cannot be set from the config file");
        }
        if *scope == Scope::Shared && !known.contains_key(key) && known_anywhere.contains(key) {
            continue; // another role's setting
        }
        let arg = known.get(key).with_context(|| {
            format!(
                "config file {path}: unknown key '{}' for this role (known: {})",
                key.replace('-', "_"),
                known.keys().map(|k| k.replace('-', "_")).collect::<Vec<_>>().join(", ")
            )
        })?;
        let given_as_flag =
            args.iter().any(|a| a == &format!("--{key}") || a.starts_with(&format!("--{key}=")));
        let in_env = arg.get_env().is_some_and(|e| std::env::var_os(e).is_some());
        if given_as_flag || in_env {
            continue;
        }
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            // A list setting (e.g. `artifact_allowed`): its comma-separated flag value.
            toml::Value::Array(items) if arg.get_value_delimiter() == Some(',') => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .with_context(|| {
                    format!("config file {path}: key '{}' must be a list of strings", key.replace('-', "_"))
                })?
                .join(","),
            other => bail!(
                "config file {path}: key '{}' has an unsupported value {other:?}",
                key.replace('-', "_")
            ),
        };
        let is_switch = matches!(arg.get_action(), clap::ArgAction::SetTrue);
        if is_switch {
            match value {
                toml::Value::Boolean(true) => out.push(format!("--{key}")),
                toml::Value::Boolean(false) => {}
                _ => bail!("config file {path}: key '{}' must be true or false", key.replace('-', "_")),
            }
        } else {
            out.push(format!("--{key}={text}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_tables_override_top_level_keys() {
        let s =
            settings("pool_size = 4\n[primary]\npool-size = 8\n[reader]\npool_size = 2\n", "primary", "f")
                .unwrap_or_default();
        assert_eq!(s.get("pool-size"), Some(&(Scope::Role, toml::Value::Integer(8))));
        assert!(settings("[nope]\nx = 1\n", "primary", "f").is_err());
        assert!(settings("not toml ===", "primary", "f").is_err());
    }
}
