//! Precedence and error reporting of the configuration layers.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// figment::Jail's closures return its own large error type.
#![allow(clippy::result_large_err)]

use figment::Jail;
use mosaic_config::{ConfigError, GatewaySettings, Loader};
use serde::Serialize;
use std::net::SocketAddr;

#[derive(Serialize, Default)]
struct Flags {
    #[serde(skip_serializing_if = "Option::is_none")]
    http_addr: Option<String>,
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn defaults_apply_with_nothing_set() {
    Jail::expect_with(|jail| {
        // Nothing from the calling environment (CI exports DATABASE_URL).
        jail.clear_env();
        let dir = jail.directory().to_path_buf();
        jail.set_env("HOME", dir.display());
        jail.set_env("XDG_CONFIG_HOME", dir.join("cfg").display());
        let s: GatewaySettings = Loader::new().load().unwrap();
        assert_eq!(s.http_addr, addr("127.0.0.1:7420"));
        assert_eq!(s.federation_addr, addr("127.0.0.1:7443"));
        assert_eq!(s.database_url, None);
        assert!(s.data_dir.ends_with("mosaic"));
        Ok(())
    });
}

#[test]
fn file_then_env_then_flags_win_in_order() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "mosaic.toml",
            "http_addr = \"127.0.0.1:1111\"\ndata_dir = \"/srv/mosaic\"\nlog = \"debug\"\n",
        )?;
        jail.set_env("MOSAIC_CONFIG", "mosaic.toml");
        let s: GatewaySettings = Loader::new().load().unwrap();
        assert_eq!(s.http_addr, addr("127.0.0.1:1111"));
        assert_eq!(s.data_dir, std::path::PathBuf::from("/srv/mosaic"));

        jail.set_env("MOSAIC_HTTP_ADDR", "127.0.0.1:2222");
        jail.set_env("DATABASE_URL", "postgres://127.0.0.1/x");
        let s: GatewaySettings = Loader::new().load().unwrap();
        assert_eq!(s.http_addr, addr("127.0.0.1:2222"));
        assert_eq!(s.log, "debug", "file value kept where env is silent");
        assert_eq!(s.database_url.as_deref(), Some("postgres://127.0.0.1/x"));

        let s: GatewaySettings = Loader::new()
            .flags(Flags {
                http_addr: Some("127.0.0.1:3333".into()),
            })
            .load()
            .unwrap();
        assert_eq!(s.http_addr, addr("127.0.0.1:3333"));

        let s: GatewaySettings = Loader::new().flags(Flags::default()).load().unwrap();
        assert_eq!(
            s.http_addr,
            addr("127.0.0.1:2222"),
            "absent flag leaves env alone"
        );
        Ok(())
    });
}

#[test]
fn bad_env_value_names_key_variable_and_expectation() {
    Jail::expect_with(|jail| {
        jail.set_env("MOSAIC_HTTP_ADDR", "nope");
        let err = Loader::new().load::<GatewaySettings>().unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ConfigError::Invalid { .. }), "{text}");
        assert!(text.contains("`http_addr`"), "{text}");
        assert!(
            text.contains("environment variable MOSAIC_HTTP_ADDR"),
            "{text}"
        );
        assert!(text.contains("nope"), "{text}");
        assert!(text.contains("127.0.0.1:7420"), "{text}");
        Ok(())
    });
}

#[test]
fn bad_file_value_names_the_file() {
    Jail::expect_with(|jail| {
        jail.create_file("mosaic.toml", "federation_addr = 7443\n")?;
        let err = Loader::new()
            .config_file(Some("mosaic.toml"))
            .load::<GatewaySettings>()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`federation_addr`"), "{text}");
        assert!(text.contains("config file"), "{text}");
        assert!(text.contains("mosaic.toml"), "{text}");
        Ok(())
    });
}

#[test]
fn bad_flag_value_names_the_flags() {
    Jail::expect_with(|_jail| {
        let err = Loader::new()
            .flags(Flags {
                http_addr: Some("127.0.0.1".into()),
            })
            .load::<GatewaySettings>()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("command-line flags"), "{text}");
        assert!(text.contains("`http_addr`"), "{text}");
        Ok(())
    });
}

#[test]
fn a_named_but_missing_file_is_an_error() {
    Jail::expect_with(|jail| {
        jail.set_env("MOSAIC_CONFIG", "/nonexistent/mosaic.toml");
        let err = Loader::new().load::<GatewaySettings>().unwrap_err();
        assert!(matches!(err, ConfigError::MissingFile { .. }));
        assert!(err.to_string().contains("MOSAIC_CONFIG"));
        Ok(())
    });
}

#[test]
fn localhost_is_accepted_as_an_address() {
    Jail::expect_with(|jail| {
        jail.set_env("MOSAIC_HTTP_ADDR", "localhost:9000");
        let s: GatewaySettings = Loader::new().load().unwrap();
        assert_eq!(s.http_addr, addr("127.0.0.1:9000"));
        Ok(())
    });
}

#[test]
fn limits_come_from_file_and_environment() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "mosaic.toml",
            "[limits]\nmax_connections = 64\nidle_timeout_secs = 5\n",
        )?;
        jail.set_env("MOSAIC_CONFIG", "mosaic.toml");
        jail.set_env("MOSAIC_LIMITS__MAX_BODY_BYTES", "1024");
        let s: GatewaySettings = Loader::new().load().unwrap();
        assert_eq!(s.limits.max_connections.get(), 64);
        assert_eq!(s.limits.idle_timeout_secs.get(), 5);
        assert_eq!(s.limits.max_body_bytes.get(), 1024);
        assert_eq!(
            s.limits.max_connections_per_ip,
            mosaic_config::ListenerLimits::default().max_connections_per_ip,
            "unset keys keep their defaults"
        );
        Ok(())
    });
}

#[test]
fn the_shutdown_grace_is_a_limit_like_the_others() {
    Jail::expect_with(|jail| {
        let s: GatewaySettings = Loader::new().load().unwrap();
        assert_eq!(s.limits.shutdown_grace_secs.get(), 10, "the default");
        jail.create_file("mosaic.toml", "[limits]\nshutdown_grace_secs = 3\n")?;
        jail.set_env("MOSAIC_CONFIG", "mosaic.toml");
        let s: GatewaySettings = Loader::new().load().unwrap();
        assert_eq!(s.limits.shutdown_grace_secs.get(), 3);
        jail.set_env("MOSAIC_LIMITS__SHUTDOWN_GRACE_SECS", "4");
        let s: GatewaySettings = Loader::new().load().unwrap();
        assert_eq!(
            s.limits.shutdown_grace_secs.get(),
            4,
            "the environment wins"
        );
        jail.set_env("MOSAIC_LIMITS__SHUTDOWN_GRACE_SECS", "0");
        let text = Loader::new()
            .load::<GatewaySettings>()
            .unwrap_err()
            .to_string();
        assert!(text.contains("`limits.shutdown_grace_secs`"), "{text}");
        assert!(
            text.contains("environment variable MOSAIC_LIMITS__SHUTDOWN_GRACE_SECS"),
            "{text}"
        );
        Ok(())
    });
}

#[test]
fn a_zero_limit_is_refused_by_name() {
    Jail::expect_with(|jail| {
        jail.set_env("MOSAIC_LIMITS__HANDSHAKE_TIMEOUT_SECS", "0");
        let err = Loader::new().load::<GatewaySettings>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`limits.handshake_timeout_secs`"), "{text}");
        assert!(
            text.contains("environment variable MOSAIC_LIMITS__HANDSHAKE_TIMEOUT_SECS"),
            "{text}"
        );
        Ok(())
    });
}

#[test]
fn an_unknown_key_in_the_file_names_file_key_and_the_nearest_key() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        for (toml, key, nearest) in [
            ("htp_addr = \"127.0.0.1:1\"\n", "htp_addr", "http_addr"),
            (
                "databse_url = \"sqlite::memory:\"\n",
                "databse_url",
                "database_url",
            ),
            (
                "[limits]\nmax_conections = 5\n",
                "limits.max_conections",
                "limits.max_connections",
            ),
        ] {
            jail.create_file("mosaic.toml", toml)?;
            jail.set_env("MOSAIC_CONFIG", "mosaic.toml");
            let err = Loader::new().load::<GatewaySettings>().unwrap_err();
            assert!(matches!(err, ConfigError::UnknownKey(_)), "{err:?}");
            let text = err.to_string();
            assert!(text.contains(&format!("unknown key `{key}`")), "{text}");
            assert!(text.contains("mosaic.toml"), "{text}");
            assert!(
                text.contains(&format!("did you mean `{nearest}`")),
                "{text}"
            );
            assert_eq!(err.exit_code(), mosaic_config::EXIT_CONFIG);
        }
        Ok(())
    });
}

#[test]
fn a_nested_unknown_variable_is_an_error_a_top_level_one_is_not() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let dir = jail.directory().to_path_buf();
        jail.set_env("XDG_CONFIG_HOME", dir.join("cfg").display());
        // Other programs' variables share the prefix.
        jail.set_env("MOSAIC_GATEWAY_URL", "http://127.0.0.1:7420");
        jail.set_env("MOSAIC_TOKEN", "mosaic_x");
        Loader::new().load::<GatewaySettings>().unwrap();

        jail.set_env("MOSAIC_LIMITS__MAX_CONECTIONS", "5");
        let text = Loader::new()
            .load::<GatewaySettings>()
            .unwrap_err()
            .to_string();
        assert!(text.contains("MOSAIC_LIMITS__MAX_CONECTIONS"), "{text}");
        assert!(text.contains("limits.max_connections"), "{text}");
        Ok(())
    });
}

#[test]
fn the_client_table_is_the_clis_and_is_checked_there() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "mosaic.toml",
            "http_addr = \"127.0.0.1:1111\"\n[client]\ngateway_url = \"http://127.0.0.1:9\"\n",
        )?;
        jail.set_env("MOSAIC_CONFIG", "mosaic.toml");
        // The gateway skips the CLI's table…
        let s: GatewaySettings = Loader::new().load().unwrap();
        assert_eq!(s.http_addr, addr("127.0.0.1:1111"));
        // …and the CLI reads it.
        let c: mosaic_config::ClientSettings = Loader::new().load_section("client").unwrap();
        assert_eq!(c.gateway_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(c.token, None);

        jail.create_file("mosaic.toml", "[client]\ngateway = \"http://x\"\n")?;
        let text = Loader::new()
            .load_section::<mosaic_config::ClientSettings>("client")
            .unwrap_err()
            .to_string();
        assert!(text.contains("unknown key `client.gateway`"), "{text}");
        assert!(text.contains("did you mean `client.gateway_url`"), "{text}");
        Ok(())
    });
}

#[test]
fn an_empty_data_dir_or_database_url_is_an_error_not_the_current_directory() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let dir = jail.directory().to_path_buf();
        jail.set_env("XDG_CONFIG_HOME", dir.join("cfg").display());
        jail.set_env("MOSAIC_DATA_DIR", "");
        let text = Loader::new()
            .load::<GatewaySettings>()
            .unwrap_err()
            .to_string();
        assert!(text.contains("data_dir"), "{text}");
        assert!(text.contains("MOSAIC_DATA_DIR"), "{text}");
        assert!(text.contains("empty"), "{text}");

        jail.set_env("MOSAIC_DATA_DIR", dir.display());
        jail.set_env("DATABASE_URL", " ");
        let text = Loader::new()
            .load::<GatewaySettings>()
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("database_url") && text.contains("empty"),
            "{text}"
        );
        Ok(())
    });
}
