//! Loading and validating the configuration: keys, secrets from the environment and files, errors.

#![allow(clippy::unwrap_used)]

use super::*;

/// A syntactically valid RSA-2048 SPKI public key (the Freshchat reference's test key).
const KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuGJLF4hTTtxWogT6dNkGf3CEgLAR2mGJzlds5cNbrHFoJNFnmVhkRYGzLYxx4EtDiezNCZVHfyMI2AKuNSQW2fEdDatVIG+q3Zr/X9eeDl8kQOGy804J/fgCYDrN8RQu0n5Dh1inv4puca0wb29SCvoAwrWb33ehDBIvv6+rUKBdjtv2xTV65kNiVDo5VRCaYRVeE10osxeONgw55HVY4nczuxnR+dmc2282de6WHe5LXtr0ZBdJ8yttFOLIluZ/sNM5DIWZBkIWQhyT581tbA7bTpsIbrT/IMBlmioIILw8WGtI7zcmNkjU5dnq5HnlVKEDhj/Ug/dLiyno8+Vp7QIDAQAB";

fn base() -> String {
    format!(
        r#"
[server]
public_url = "https://zfsync.example.com"
[zalo]
app_id = "1234567890123456789"
app_secret = "app-secret-value"
oa_secret_key = "oa-secret-value"
[freshchat]
api_base = "https://acme.freshchat.com"
api_key = "fc-api-key-value"
webhook_public_key = "-----BEGIN RSA PUBLIC KEY----- {KEY} -----END RSA PUBLIC KEY-----"
"#
    )
}

fn err(text: &str) -> String {
    Config::from_toml(text).unwrap_err().to_string()
}

#[test]
fn minimal_config_gets_defaults() {
    let c = Config::from_toml(&base()).unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.zalo.api_base.as_str(), "https://openapi.zalo.me/");
    assert_eq!(c.sync.max_concurrent_lanes, 32);
    assert_eq!(
        c.public_url("/webhooks/zalo"),
        "https://zfsync.example.com/webhooks/zalo"
    );
}

#[test]
fn trusted_proxies_are_checked_at_load() {
    let c = Config::from_toml(&base()).unwrap();
    assert!(c.server.trusted_proxies.is_empty(), "none by default");
    let with = |list: &str| {
        base().replace(
            "[server]\n",
            &format!("[server]\ntrusted_proxies = {list}\n"),
        )
    };
    let c = Config::from_toml(&with(r#"["127.0.0.1", "10.0.0.0/8", "fd00::/8"]"#)).unwrap();
    assert!(c
        .server
        .trusted_proxies()
        .is_trusted("10.20.30.40".parse().unwrap()));
    for bad in [
        r#"["10.0.0.0/33"]"#,
        r#"["proxy.local"]"#,
        r#"["10.0.0.1/8"]"#,
    ] {
        let e = err(&with(bad));
        assert!(e.contains("server.trusted_proxies"), "{e}");
    }
}

#[test]
fn errors_name_the_key() {
    assert!(err(&base().replace("[zalo]\n", "[zalo]\nap_id = \"1\"\n")).contains("ap_id"));
    assert!(
        err(&base().replace("api_key = \"fc-api-key-value\"\n", "")).contains("freshchat.api_key")
    );
    assert!(
        err(&base().replace("https://acme.freshchat.com", "ftp://acme"))
            .contains("freshchat.api_base")
    );
    assert!(err(&base().replace(KEY, "bm90IGEga2V5")).contains("freshchat.webhook_public_key"));
    let oa = err(&base().replace("[zalo]\n", "[zalo]\noa_id = \"My Shop\"\n"));
    assert!(
        oa.contains("Invalid OA ID") && oa.contains("numeric string"),
        "{oa}"
    );
}

#[test]
fn schedules_are_cron_expressions() {
    let c = Config::from_toml(&base()).unwrap();
    assert_eq!(c.sync.reconcile_cron, "0 */5 * * * *");
    let ok = format!("{}\n[sync]\nreconcile_cron = \"off\"\n", base());
    assert!(Config::from_toml(&ok).is_ok());
    let bad = format!("{}\n[sync]\nretention_cron = \"every hour\"\n", base());
    let e = err(&bad);
    assert!(
        e.contains("sync.retention_cron") && e.contains("six fields"),
        "{e}"
    );
    // Five fields (no seconds) is the classic mistake.
    let five = format!("{}\n[sync]\nreconcile_cron = \"*/5 * * * *\"\n", base());
    assert!(err(&five).contains("sync.reconcile_cron"));
}

#[test]
fn parse_errors_do_not_quote_secrets() {
    let broken = base().replace(
        "app_secret = \"app-secret-value\"",
        "app_secret = \"app-secret-value",
    );
    let e = err(&broken);
    assert!(!e.contains("app-secret-value"), "{e}");
    assert!(e.contains("line"), "{e}");
}

#[cfg(unix)]
#[test]
fn secrets_come_from_a_private_secrets_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.env");
    std::fs::write(
        &file,
        "# zfsync secrets\nZFSYNC_ADMIN_TOKEN=\"from-the-file-0123456789abc\"\nexport ZFSYNC_STORE_KEY=k3y\n",
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = format!("secrets_file = \"secrets.env\"\n{}", base());
    let c = Config::from_toml_in(&text, Some(dir.path())).unwrap();
    assert_eq!(
        c.admin_token().map(|t| t.expose_secret().to_string()),
        Some("from-the-file-0123456789abc".into())
    );
    assert_eq!(
        c.store.key.as_ref().map(|k| k.expose_secret().to_string()),
        Some("k3y".into())
    );
    // Readable by others: refused, with the fix.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = Config::from_toml_in(&text, Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("chmod 600"), "{e}");
    // A line that is not NAME=value is named by number, never quoted.
    std::fs::write(&file, "ZFSYNC_ADMIN_TOKEN=ok\nsecret-without-a-name\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = Config::from_toml_in(&text, Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2") && !e.contains("secret-without"), "{e}");
}

/// Found by the fuzzer: a schedule that never fires was accepted, and the scheduler then drops
/// the job without a word (a token refresh that never runs).
#[test]
fn a_schedule_that_never_fires_is_refused() {
    for never in ["0 0 0 31 2 *", "0 0 0 30 2 *", "0 0 0 1 1 * 2001"] {
        let bad = format!("{}\n[sync]\ntoken_refresh_cron = \"{never}\"\n", base());
        let e = err(&bad);
        assert!(
            e.contains("sync.token_refresh_cron") && e.contains("never fires"),
            "{never}: {e}"
        );
    }
    let leap = format!("{}\n[sync]\nretention_cron = \"0 0 0 29 2 *\"\n", base());
    assert!(Config::from_toml(&leap).is_ok());
}

/// Found by the fuzzer: the secrets file was read whole before its mode was checked, so
/// `secrets_file = "/dev/zero"` ate memory until the allocator gave up.
#[cfg(unix)]
#[test]
fn a_secrets_file_that_is_no_small_regular_file_is_refused_before_reading() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let e = read_secrets_file(Path::new("/dev/zero"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a regular file"), "{e}");
    let e = read_secrets_file(dir.path()).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
    let big = dir.path().join("secrets.env");
    let line = format!("ZFSYNC_ADMIN_TOKEN={}\n", "k".repeat(1000));
    std::fs::write(&big, line.repeat(70)).unwrap();
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = read_secrets_file(&big).unwrap_err().to_string();
    assert!(
        e.contains("larger than 64 KiB") && !e.contains("kkk"),
        "{e}"
    );
    // Readable by others: refused before reading too.
    std::fs::write(&big, "ZFSYNC_ADMIN_TOKEN=t\n").unwrap();
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(read_secrets_file(&big)
        .unwrap_err()
        .to_string()
        .contains("chmod 600"));
}

/// Found by the fuzzer (10⁶ run, config input 909000): a line that lost its '=' and newline
/// made the "unknown name" error quote the next line's secret.
#[cfg(unix)]
#[test]
fn an_unknown_name_never_quotes_a_secret() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.env");
    let write = |text: &str| {
        std::fs::write(&file, text).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write("ZFSYNC_ZALO_OA_SECRETIKEY?\"oa-secret-value\"*export ZFSYNC_FRESHCHAT_API_KEY='k'\n");
    let e = read_secrets_file(&file).unwrap_err().to_string();
    assert!(
        e.contains("line 1") && !e.contains("oa-secret-value"),
        "{e}"
    );
    // A name that is only misspelt is still shown, so the fix is obvious.
    write("ZFSYNC_ZALO_OA_SECRETKEY=oa-secret-value\n");
    let e = read_secrets_file(&file).unwrap_err().to_string();
    assert!(
        e.contains("\"ZFSYNC_ZALO_OA_SECRETKEY\"") && !e.contains("oa-secret-value"),
        "{e}"
    );
}

#[test]
fn debug_never_shows_secrets() {
    let c = Config::from_toml(&base()).unwrap();
    let shown = format!("{c:?}");
    for secret in ["app-secret-value", "oa-secret-value", "fc-api-key-value"] {
        assert!(!shown.contains(secret), "{secret} in Debug");
    }
}

/// A pairing runs with the deployment's settings and its own Zalo, Freshchat and mapping ones,
/// validated like the file's; names are checked before they reach a URL.
#[test]
fn a_pairing_replaces_the_platform_settings_and_is_validated() {
    let base = Config::from_toml(&base()).unwrap();
    let mut settings = PairingSettings::of(&base);
    settings.zalo_app_id = "987".into();
    settings.zalo_oa_id = Some("42".into());
    settings.mapping_language = Some("en".into());
    let secrets = PairingSecrets {
        zalo_app_secret: "b-app".into(),
        zalo_oa_secret_key: "b-oa".into(),
        freshchat_api_key: "b-key".into(),
        freshchat_webhook_public_key: format!(
            "-----BEGIN RSA PUBLIC KEY----- {KEY} -----END RSA PUBLIC KEY-----"
        ),
    };
    let b = base.for_pairing(&settings, &secrets).unwrap();
    assert_eq!(
        (b.zalo.app_id.as_str(), b.zalo.oa_id.as_deref()),
        ("987", Some("42"))
    );
    assert_eq!(b.zalo_app_secret().expose_secret(), "b-app");
    assert_eq!(b.mapping.language.as_deref(), Some("en"));
    assert_eq!(b.server.public_url, base.server.public_url);
    assert!(!format!("{secrets:?}").contains("b-app"));

    settings.zalo_app_id = "not-a-number".into();
    let e = base
        .for_pairing(&settings, &secrets)
        .unwrap_err()
        .to_string();
    assert!(e.contains("zalo.app_id"), "{e}");

    check_pairing_name("shop-hanoi").unwrap();
    for bad in ["", "Shop", "-x", "a/b", "a b", &"x".repeat(41)] {
        assert!(check_pairing_name(bad).is_err(), "{bad:?}");
    }
}

/// `ZFSYNC_LISTEN` (set by the container image) takes an address and port; anything else names
/// the variable and shows the form.
#[test]
fn listen_from_the_environment_is_an_address_and_port() {
    assert_eq!(
        parse_listen("0.0.0.0:8080").unwrap().to_string(),
        "0.0.0.0:8080"
    );
    assert_eq!(
        parse_listen(" [::]:9000 ").unwrap().to_string(),
        "[::]:9000"
    );
    for bad in ["8080", "localhost:8080", "0.0.0.0", "http://0.0.0.0:8080"] {
        let e = parse_listen(bad).unwrap_err().to_string();
        assert!(
            e.contains("server.listen")
                && e.contains("ZFSYNC_LISTEN")
                && e.contains("0.0.0.0:8080"),
            "{e}"
        );
    }
}
