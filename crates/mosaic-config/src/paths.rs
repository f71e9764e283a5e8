//! Default locations, following the XDG base directory conventions.

use std::path::PathBuf;

/// `$XDG_DATA_HOME/mosaic`, i.e. `~/.local/share/mosaic` on Linux. Falls back to
/// `./.mosaic` when no home directory is known (e.g. a bare container user).
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().map_or_else(|| PathBuf::from(".mosaic"), |d| d.join("mosaic"))
}

/// `$XDG_CONFIG_HOME/mosaic`, i.e. `~/.config/mosaic` on Linux.
pub fn default_config_dir() -> PathBuf {
    dirs::config_dir().map_or_else(|| PathBuf::from(".mosaic"), |d| d.join("mosaic"))
}

/// A directory setting that must not be empty: an empty `MOSAIC_DATA_DIR`
/// would otherwise put the database in whatever directory the program
/// happens to start in.
pub(crate) fn non_empty<'de, D: serde::Deserializer<'de>>(de: D) -> Result<PathBuf, D::Error> {
    let path = <PathBuf as serde::Deserialize>::deserialize(de)?;
    if path.as_os_str().is_empty() {
        return Err(serde::de::Error::custom(
            "empty: name a directory, or unset it to use the default",
        ));
    }
    Ok(path)
}

/// A database URL that, when present, is not blank.
pub(crate) fn non_empty_url<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Option<String>, D::Error> {
    let url = <Option<String> as serde::Deserialize>::deserialize(de)?;
    if url.as_deref().is_some_and(|u| u.trim().is_empty()) {
        return Err(serde::de::Error::custom(
            "empty: give a postgres://… or sqlite://… URL, or unset it to use SQLite in the data dir",
        ));
    }
    Ok(url)
}
