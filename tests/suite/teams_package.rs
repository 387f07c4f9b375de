//! The Teams app package: the manifest validates against Microsoft's v1.23 schema once filled
//! in, the icons are what Teams asks for, and `teams package` writes an upload-ready zip.

use crate::helpers::run_bin;
use escalation_bot::chat::teams::package;
use serde_json::Value;
use std::io::Read;
use std::path::Path;

const APP: &str = "0b6fe6d1-ece8-4b8e-9bd5-5a8b7e4b0f00";

fn validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/suite/schemas/teams-manifest-v1.23.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the schema is there"))
            .expect("JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn errors(v: &Value) -> Vec<String> {
    validator()
        .iter_errors(v)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_filled_manifest_validates_against_the_v1_23_schema() {
    let manifest: Value =
        serde_json::from_str(&package::manifest(APP, "bot.example.org").expect("fills"))
            .expect("JSON");
    let problems = errors(&manifest);
    assert!(
        problems.is_empty(),
        "the manifest breaks Teams' schema:\n{}",
        problems.join("\n")
    );
    let version: f64 = manifest["manifestVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(version >= 1.23);
    let bot = &manifest["bots"][0];
    let scopes: Vec<&str> = bot["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(scopes, ["team", "groupChat", "personal"]);
    // One list per scope: channels list `connect` (an agency admin types it in the channel to
    // use); chats, where it means nothing, list `delay` instead. Teams lists at most ten each.
    let list = |i: usize| -> (Vec<&str>, Vec<&str>) {
        let words = |key: &str, field: Option<&str>| -> Vec<&str> {
            bot["commandLists"][i][key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| match field {
                    Some(f) => c[f].as_str(),
                    None => c.as_str(),
                })
                .collect()
        };
        (words("scopes", None), words("commands", Some("title")))
    };
    let (channel_scopes, in_channels) = list(0);
    let (chat_scopes, in_chats) = list(1);
    assert_eq!(channel_scopes, ["team"]);
    assert_eq!(chat_scopes, ["groupChat", "personal"]);
    assert_eq!(
        in_channels,
        [
            "challenge",
            "help",
            "status",
            "list",
            "ack",
            "note",
            "done",
            "escalate",
            "resolve",
            "connect"
        ]
    );
    assert_eq!(
        in_chats,
        [
            "challenge",
            "help",
            "status",
            "list",
            "ack",
            "note",
            "done",
            "delay",
            "escalate",
            "resolve"
        ]
    );
    // Each is a word the service understands.
    for c in in_channels.iter().chain(&in_chats) {
        assert!(
            escalation_bot::posts::grammar::parse(c).is_ok()
                || escalation_bot::posts::grammar::parse(&format!("{c} NSAB-2026-0007")).is_ok(),
            "{c} is a command escalation-bot knows"
        );
    }
    assert_eq!(manifest["validDomains"][0], "bot.example.org");
}

#[test]
fn the_schema_check_catches_a_broken_manifest() {
    let good: Value =
        serde_json::from_str(&package::manifest(APP, "bot.example.org").expect("fills"))
            .expect("JSON");
    for (pointer, bad) in [
        ("/id", Value::from("not-a-guid")),
        ("/name/short", Value::from("x".repeat(31))),
        ("/bots/0/scopes/0", Value::from("everyone")),
    ] {
        let mut broken = good.clone();
        if let Some(slot) = broken.pointer_mut(pointer) {
            *slot = bad;
        }
        assert!(!errors(&broken).is_empty(), "{pointer} was not caught");
    }
    // The shipped file itself is only a template: its placeholders are not an app id.
    let template: Value = serde_json::from_str(package::MANIFEST).expect("the template is JSON");
    assert!(!errors(&template).is_empty());
}

/// Width, height and colour type from a PNG's header, and its pixels (RGBA, 8-bit, no interlace).
fn png(bytes: &[u8]) -> (u32, u32, u8, Vec<[u8; 4]>) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG signature");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let (w, h, colour) = (be(16), be(20), bytes[25]);
    let mut data = Vec::new();
    let mut i = 8;
    while i + 8 <= bytes.len() {
        let len = be(i) as usize;
        if &bytes[i + 4..i + 8] == b"IDAT" {
            data.extend_from_slice(&bytes[i + 8..i + 8 + len]);
        }
        i += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&data[..])
        .read_to_end(&mut raw)
        .expect("IDAT inflates");
    let mut pixels = Vec::new();
    if colour == 6 {
        let stride = 1 + w as usize * 4;
        for row in raw.chunks(stride) {
            assert_eq!(row[0], 0, "unfiltered rows");
            pixels.extend(row[1..].chunks(4).map(|p| [p[0], p[1], p[2], p[3]]));
        }
    }
    (w, h, colour, pixels)
}

#[test]
fn the_icons_are_a_192_pixel_colour_icon_and_a_32_pixel_white_on_transparent_outline() {
    let (w, h, _, _) = png(package::COLOR_ICON);
    assert_eq!((w, h), (192, 192));
    let (w, h, colour, pixels) = png(package::OUTLINE_ICON);
    assert_eq!((w, h, colour), (32, 32, 6));
    assert!(
        pixels
            .iter()
            .all(|p| *p == [255, 255, 255, 255] || p[3] == 0),
        "only white and transparent"
    );
    assert!(pixels.iter().any(|p| p[3] == 0) && pixels.iter().any(|p| p[3] == 255));
}

#[test]
fn teams_package_writes_an_upload_ready_zip() {
    let folder = tempfile::tempdir().expect("a folder");
    let out = folder.path().join("app.zip");
    let out_arg = out.display().to_string();
    let run = run_bin(
        &[
            "teams",
            "package",
            "--app-id",
            APP,
            "--domain",
            "bot.example.org",
            "--out",
            &out_arg,
        ],
        None,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let mut zip =
        zip::ZipArchive::new(std::fs::File::open(&out).expect("the zip exists")).expect("a zip");
    let mut names: Vec<String> = (0..zip.len())
        .map(|i| {
            zip.by_index(i)
                .map(|f| f.name().map(|n| n.to_string()).unwrap_or_default())
                .expect("an entry")
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["color.png", "manifest.json", "outline.png"],
        "at the zip's root"
    );
    let mut text = String::new();
    zip.by_name("manifest.json")
        .expect("manifest")
        .read_to_string(&mut text)
        .expect("text");
    let manifest: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(manifest["bots"][0]["botId"], APP);
    assert!(errors(&manifest).is_empty());

    let bad = run_bin(
        &[
            "teams",
            "package",
            "--app-id",
            "my-bot",
            "--domain",
            "bot.example.org",
            "--out",
            &out_arg,
        ],
        None,
    );
    assert_ne!(bad.code, Some(0));
    assert!(
        bad.stderr.contains("not a Microsoft App ID"),
        "{}",
        bad.stderr
    );
}
