//! `mosaic ca` and `mosaic cert`: the gateway CA in the data dir, and a look
//! inside any certificate.

use crate::commands::Global;
use crate::output::{self, JsonArgs};
use anyhow::Context as _;
use chrono::Utc;
use clap::Subcommand;
use mosaic_identity::{
    CaSource, CertSummary, GatewayPki, PkiOptions, certificate_pem_or_der, inspect, instance_name,
};
use serde::Serialize;
use std::path::PathBuf;

/// The gateway CA.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create the gateway CA, server certificate and secret in the data dir
    /// (what the gateway does on first start); with an external CA
    /// configured, check it instead. Safe to repeat: nothing existing is replaced.
    Init {
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Show the CA the gateway uses: subject, serial, validity, fingerprint.
    Show {
        #[command(flatten)]
        out: JsonArgs,
    },
}

/// Certificates.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Subject, serial, validity and Mosaic OIDs of a certificate (PEM or DER).
    Inspect {
        /// The certificate file.
        file: PathBuf,
        #[command(flatten)]
        out: JsonArgs,
    },
}

#[derive(Serialize)]
struct CaReport {
    source: String,
    created: bool,
    fingerprint_sha256: String,
    certificate: CertSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_certificate: Option<CertSummary>,
}

fn describe(source: &CaSource) -> String {
    match source {
        CaSource::Generated { .. } => "generated".to_owned(),
        CaSource::External { cert, .. } => format!("external ({})", cert.display()),
    }
}

fn print_ca(report: &CaReport, paths: Option<&mosaic_identity::PkiPaths>) {
    let c = &report.certificate;
    if report.created {
        println!("created a new gateway CA");
    }
    println!("CA           {}", c.subject);
    println!("source       {}", report.source);
    println!("serial       {}", c.serial);
    println!(
        "valid        {} .. {}",
        c.not_before.to_rfc3339(),
        c.not_after.to_rfc3339()
    );
    println!("fingerprint  SHA256 {}", report.fingerprint_sha256);
    if let Some(server) = &report.server_certificate {
        println!(
            "server cert  {} (until {})",
            server.subject_alt_names.join(", "),
            server.not_after.to_rfc3339()
        );
    }
    if let Some(paths) = paths {
        println!("files        {}", paths.root().display());
    }
}

/// Runs a `mosaic ca` command.
pub fn run_ca(global: &Global, cmd: CaCommand) -> anyhow::Result<()> {
    let settings = global.settings()?;
    let identity = &settings.identity;
    let name = instance_name(identity.name.as_deref());
    let options = PkiOptions::new(
        identity.ca_cert.as_deref(),
        identity.ca_key.as_deref(),
        &identity.server_names,
        &name,
    )?;
    match cmd {
        CaCommand::Init {
            out: JsonArgs { json },
        } => {
            let pki = GatewayPki::load_or_create(&settings.data_dir, &options, Utc::now())?;
            let server = mosaic_identity::pem_certificates(&pki.server.cert_pem)
                .ok()
                .and_then(|c| c.first().and_then(|d| inspect(d).ok()));
            let report = CaReport {
                source: describe(&options.ca),
                created: pki.events.contains(&mosaic_identity::PkiEvent::CaCreated),
                fingerprint_sha256: pki.ca.fingerprint().to_string(),
                certificate: inspect(pki.ca.cert_der())?,
                server_certificate: server,
            };
            if json {
                output::json(&report)?;
            } else {
                print_ca(&report, Some(&pki.paths));
            }
        }
        CaCommand::Show {
            out: JsonArgs { json },
        } => {
            let ca = GatewayPki::load_ca(&settings.data_dir, &options.ca)?.with_context(|| {
                format!(
                    "no gateway CA in {} yet; run `mosaic ca init` or start the gateway once",
                    settings.data_dir.display()
                )
            })?;
            let report = CaReport {
                source: describe(&options.ca),
                created: false,
                fingerprint_sha256: ca.fingerprint().to_string(),
                certificate: inspect(ca.cert_der())?,
                server_certificate: None,
            };
            if json {
                output::json(&report)?;
            } else {
                print_ca(&report, None);
            }
        }
    }
    Ok(())
}

/// Runs a `mosaic cert` command.
pub fn run_cert(cmd: CertCommand) -> anyhow::Result<()> {
    match cmd {
        CertCommand::Inspect {
            file,
            out: JsonArgs { json },
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let der = certificate_pem_or_der(&bytes)
                .with_context(|| format!("{} holds no certificate", file.display()))?;
            let summary = inspect(&der)
                .with_context(|| format!("{} is not a valid certificate", file.display()))?;
            if json {
                output::json(&summary)?;
            } else {
                print_summary(&summary);
            }
        }
    }
    Ok(())
}

fn print_summary(s: &CertSummary) {
    println!("subject      {}", s.subject);
    println!("issuer       {}", s.issuer);
    println!("serial       {}", s.serial);
    println!("not before   {}", s.not_before.to_rfc3339());
    println!("not after    {}", s.not_after.to_rfc3339());
    println!("fingerprint  SHA256 {}", s.fingerprint_sha256);
    if s.is_ca {
        println!("CA           yes");
    }
    if !s.extended_key_usage.is_empty() {
        println!("usage        {}", s.extended_key_usage.join(", "));
    }
    if !s.subject_alt_names.is_empty() {
        println!("names        {}", s.subject_alt_names.join(", "));
    }
    if s.mosaic_extensions.is_empty() {
        println!("Mosaic OIDs  none");
    } else {
        println!("Mosaic OIDs");
        for e in &s.mosaic_extensions {
            let value = match (&e.value, &e.error) {
                (Some(v), _) => v.clone(),
                (None, Some(err)) => format!("<malformed: {err}>"),
                (None, None) => String::new(),
            };
            println!("  {:<22} {:<52} {}", e.name, e.oid, value);
        }
    }
    match &s.mosaic_identity_error {
        None => println!("Mosaic identity  yes"),
        Some(why) => println!("Mosaic identity  no: {why}"),
    }
}
