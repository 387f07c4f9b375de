//! PDF from the same HTML as the printable page, printed by headless Chromium.
//!
//! Why Chromium rather than a Rust PDF library: the printable page and the PDF then come from one
//! template and look the same (tables, wrapping, fonts), with no second layout to keep true; the
//! PDF's text is real text a business unit can search and copy; and Debian's `chromium` package
//! is maintained with security updates. Set `CHROMIUM` to its path if it is not on `PATH`.

use std::path::PathBuf;
use std::time::Duration;

/// Why a PDF could not be made, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(
        "cannot start Chromium to print the PDF ({0}); install Debian's `chromium` package or set CHROMIUM to its path, or use the printable page instead"
    )]
    NoChromium(String),
    #[error("Chromium could not print the PDF: {0}")]
    Failed(String),
}

/// Prints an HTML document to PDF bytes.
pub async fn print(html: &str) -> Result<Vec<u8>, PdfError> {
    let dir = std::env::temp_dir().join(format!("escalation-bot-pdf-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).map_err(|e| PdfError::Failed(e.to_string()))?;
    let result = print_in(&dir, html).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn print_in(dir: &std::path::Path, html: &str) -> Result<Vec<u8>, PdfError> {
    let page = dir.join("page.html");
    let out = dir.join("page.pdf");
    std::fs::write(&page, html).map_err(|e| PdfError::Failed(e.to_string()))?;
    let chromium =
        std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("chromium"), PathBuf::from);
    let mut command = tokio::process::Command::new(&chromium);
    command
        .arg("--headless")
        .arg("--no-sandbox")
        .arg("--disable-gpu")
        .arg("--disable-dev-shm-usage")
        .arg("--no-first-run")
        .arg("--no-pdf-header-footer")
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--print-to-pdf={}", out.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .map_err(|e| PdfError::NoChromium(format!("{}: {e}", chromium.display())))?;
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .map_err(|_| PdfError::Failed("it took longer than a minute".into()))?
        .map_err(|e| PdfError::Failed(e.to_string()))?;
    match std::fs::read(&out) {
        Ok(bytes) if bytes.starts_with(b"%PDF") => Ok(bytes),
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().last().unwrap_or("no output");
            Err(PdfError::Failed(format!("{} ({last})", output.status)))
        }
    }
}
