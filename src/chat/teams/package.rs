//! The Teams app package: `manifests/teams/manifest.json` with its two icons, the app id and
//! domain filled in, zipped for upload in the Teams admin centre.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// The manifest as shipped, with `${{APP_ID}}` and `${{DOMAIN}}` placeholders.
pub const MANIFEST: &str = include_str!("../../../manifests/teams/manifest.json");

/// The 192×192 colour icon.
pub const COLOR_ICON: &[u8] = include_bytes!("../../../manifests/teams/color.png");

/// The 32×32 outline icon (white on transparent).
pub const OUTLINE_ICON: &[u8] = include_bytes!("../../../manifests/teams/outline.png");

const APP_ID: &str = "${{APP_ID}}";
const DOMAIN: &str = "${{DOMAIN}}";

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && !s.starts_with(['.', '-'])
        && s.split(':')
            .next()
            .is_some_and(|host| host.split('.').all(|l| !l.is_empty()))
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
}

/// The manifest with the bot's app id and the service's public domain filled in, checked to
/// be JSON with no placeholder left.
pub fn manifest(app_id: &str, domain: &str) -> Result<String, String> {
    if !is_guid(app_id) {
        return Err(format!(
            "--app-id {app_id:?} is not a Microsoft App ID (a GUID like 00000000-0000-0000-0000-000000000000, from the Azure Bot's Configuration page)"
        ));
    }
    let domain = domain.trim().trim_end_matches('/');
    let domain = domain.strip_prefix("https://").unwrap_or(domain);
    if !is_domain(domain) {
        return Err(format!(
            "--domain {domain:?} is not a host name; give the public host of escalation-bot, e.g. escalation-bot.example.org"
        ));
    }
    let text = MANIFEST
        .replace(APP_ID, &app_id.to_ascii_lowercase())
        .replace(DOMAIN, domain);
    if text.contains("${{") {
        return Err("the shipped manifest has a placeholder this command does not fill".into());
    }
    serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| format!("the filled manifest is not JSON: {e}"))?;
    Ok(text)
}

/// The upload-ready zip: `manifest.json`, `color.png` and `outline.png` at its root.
pub fn zip(app_id: &str, domain: &str) -> Result<Vec<u8>, String> {
    let manifest = manifest(app_id, domain)?;
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in [
        ("manifest.json", manifest.as_bytes()),
        ("color.png", COLOR_ICON),
        ("outline.png", OUTLINE_ICON),
    ] {
        zip.start_file(name, options)
            .map_err(|e| format!("cannot write {name} into the package: {e}"))?;
        zip.write_all(bytes)
            .map_err(|e| format!("cannot write {name} into the package: {e}"))?;
    }
    zip.finish()
        .map_err(|e| format!("cannot finish the package: {e}"))?;
    Ok(buf.into_inner())
}

/// `teams package --app-id … --domain … --out app.zip`.
pub fn run(app_id: &str, domain: &str, out: &Path) -> Result<ExitCode, String> {
    let bytes = zip(app_id, domain)?;
    std::fs::write(out, bytes).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!(
        "wrote {}: upload it in the Teams admin centre (Teams apps → Manage apps → Upload new app)",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_is_filled_and_checked() {
        let m = manifest(
            "0B6FE6D1-ECE8-4B8E-9BD5-5A8B7E4B0F00",
            "https://bot.example.org/",
        )
        .expect("fills");
        let v: serde_json::Value = serde_json::from_str(&m).expect("json");
        assert_eq!(v["id"], "0b6fe6d1-ece8-4b8e-9bd5-5a8b7e4b0f00");
        assert_eq!(v["bots"][0]["botId"], v["id"]);
        assert_eq!(v["validDomains"][0], "bot.example.org");
        assert!(manifest("not-a-guid", "bot.example.org").is_err());
        assert!(manifest("0b6fe6d1-ece8-4b8e-9bd5-5a8b7e4b0f00", "bot example").is_err());
    }
}
