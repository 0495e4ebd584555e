//! Wiring the secret store: the start-up KEK check and `mlguard secrets`.

use std::sync::Arc;

use clap::Subcommand;
use mlguard_api::AppState;
use mlguard_crypto::{Envelope, LocalKeyring};
use mlguard_domain::secrets::{SecretCipher, SecretStore, rotate_kek};
use mlguard_storage::Store;

use crate::cli::CliError;
use crate::config::SecretsSettings;

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Re-wrap every data key under the current KEK (secrets.kek), using
    /// secrets.previous_keks to unwrap. Values are not touched. Safe to interrupt:
    /// each key is swapped atomically, and a re-run resumes.
    RotateKek {
        /// Data keys read per query.
        #[arg(long, default_value_t = 500)]
        batch_size: usize,
    },
}

/// The secret store's ports, ready for the API.
pub struct SecretPorts {
    store: Arc<dyn SecretStore>,
    cipher: Arc<dyn SecretCipher>,
}

fn cipher(settings: &SecretsSettings) -> Result<Envelope<LocalKeyring>, CliError> {
    let keyring = settings.keyring()?.ok_or(
        "secrets.kek is not set: generate a key-encryption key with \
         `openssl rand -base64 32` and set it as secrets.kek (MLGUARD_SECRETS__KEK)",
    )?;
    Ok(Envelope::new(keyring))
}

/// Checks that every stored data key is under a configured KEK: a wrong or
/// missing key refuses the start, rather than failing on the first request.
fn check_keks(store: &dyn SecretStore, cipher: &dyn SecretCipher) -> Result<(), CliError> {
    let unknown: Vec<String> = store
        .kek_usage()?
        .into_iter()
        .filter(|usage| !cipher.has_kek(&usage.kek_id))
        .map(|usage| format!("{} ({} data keys)", usage.kek_id, usage.values))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the secret store holds data keys wrapped by KEK {} that the configuration lacks; \
         the configured secrets.kek is {}. If the KEK was changed, list the old key in \
         secrets.previous_keks and run `mlguard secrets rotate-kek`",
        unknown.join(", "),
        cipher.current_kek()
    )
    .into())
}

/// The ports when `secrets.enabled`, after the KEK check; `None` otherwise.
pub fn open(settings: &SecretsSettings, store: &Store) -> Result<Option<SecretPorts>, CliError> {
    if !settings.enabled {
        return Ok(None);
    }
    let cipher = cipher(settings)?;
    check_keks(store, &cipher)?;
    tracing::info!(
        kek.id = %cipher.current_kek(),
        kek.previous = ?cipher.keys().previous_keks(),
        "secret store enabled"
    );
    Ok(Some(SecretPorts {
        store: Arc::new(store.clone()),
        cipher: Arc::new(cipher),
    }))
}

/// `state`, serving the secrets API when `ports` is given.
pub fn attach(state: AppState, ports: Option<SecretPorts>) -> AppState {
    match ports {
        Some(ports) => state.with_secrets(ports.store, ports.cipher),
        None => state,
    }
}

pub fn run(
    store: &Store,
    settings: &SecretsSettings,
    command: SecretsCommand,
) -> Result<(), CliError> {
    match command {
        SecretsCommand::RotateKek { batch_size } => {
            let cipher = cipher(settings)?;
            let current = cipher.current_kek();
            tracing::info!(kek.id = %current, "re-wrapping data keys under the current KEK");
            let report = rotate_kek(store, &cipher, batch_size, |progress| {
                if progress.rewrapped > 0 && progress.rewrapped % 1000 == 0 {
                    tracing::info!(rewrapped = progress.rewrapped, "rotation progress");
                }
                true
            })?;
            let remaining: u64 = store
                .kek_usage()?
                .iter()
                .filter(|usage| usage.kek_id != current)
                .map(|usage| usage.values)
                .sum();
            tracing::info!(
                kek.id = %current,
                rewrapped = report.rewrapped,
                changed_meanwhile = report.changed_meanwhile,
                remaining,
                "KEK rotation complete"
            );
            if remaining > 0 {
                // Written meanwhile by a server still on the old configuration.
                return Err(format!(
                    "{remaining} data keys are still under an older KEK (a server still \
                     configured with it wrote them); give every server the new secrets.kek \
                     and run rotate-kek again"
                )
                .into());
            }
            Ok(())
        }
    }
}
