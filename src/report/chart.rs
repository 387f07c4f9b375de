//! Bar charts drawn on the server as SVG: readable without JavaScript, pasteable into a report.

/// Escapes text for HTML and SVG.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const LABEL_WIDTH: f64 = 260.0;
const BAR_SPACE: f64 = 300.0;
const ROW: f64 = 24.0;

/// A horizontal bar chart: one labelled bar per item, its value written after it.
pub fn bars(title: &str, items: &[(String, f64)]) -> String {
    let height = 40.0 + ROW * items.len().max(1) as f64;
    let width = LABEL_WIDTH + BAR_SPACE + 70.0;
    let max = items.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13"><title>{t}</title><text x="0" y="18" font-weight="bold">{t}</text>"#,
        t = escape(title)
    );
    if items.is_empty() {
        svg.push_str(r##"<text x="0" y="48" fill="#555">No disputes in this period.</text>"##);
    }
    for (i, (label, value)) in items.iter().enumerate() {
        let y = 32.0 + ROW * i as f64;
        let w = if max > 0.0 {
            BAR_SPACE * value / max
        } else {
            0.0
        };
        let shown = if value.fract() == 0.0 {
            format!("{value:.0}")
        } else {
            format!("{value:.1}")
        };
        svg.push_str(&format!(
            r##"<text x="{lx}" y="{ty}" text-anchor="end">{label}</text><rect x="{LABEL_WIDTH}" y="{y}" width="{w:.1}" height="{bh}" fill="#2b6cb0"/><text x="{vx:.1}" y="{ty}">{shown}</text>"##,
            lx = LABEL_WIDTH - 8.0,
            ty = y + 14.0,
            bh = ROW - 6.0,
            label = escape(label),
            vx = LABEL_WIDTH + w + 6.0,
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::bars;

    #[test]
    fn a_chart_names_its_items_escaped_and_scales_to_the_largest() {
        let svg = bars("By <category>", &[("A & B".into(), 4.0), ("C".into(), 2.0)]);
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("By &lt;category&gt;"));
        assert!(svg.contains("A &amp; B"));
        assert!(svg.contains(r#"width="300.0""#));
        assert!(svg.contains(r#"width="150.0""#));
    }

    #[test]
    fn an_empty_chart_says_there_is_nothing_to_draw() {
        assert!(bars("Outcomes", &[]).contains("No disputes in this period."));
    }
}
