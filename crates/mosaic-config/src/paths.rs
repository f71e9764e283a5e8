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
