//! Colour scales for maps and the colour bars that state them.

use plotters::coord::Shift;
use plotters::prelude::*;

/// Perceptually uniform (matplotlib's viridis, five stops), `t` in 0..1.
pub fn viridis(t: f64) -> RGBColor {
    let stops = [
        (68, 1, 84),
        (59, 82, 139),
        (33, 145, 140),
        (94, 201, 98),
        (253, 231, 37),
    ];
    let x = t.clamp(0.0, 1.0) * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    RGBColor(
        mix(stops[i].0, stops[i + 1].0),
        mix(stops[i].1, stops[i + 1].1),
        mix(stops[i].2, stops[i + 1].2),
    )
}

/// −1 blue, 0 white, +1 red.
pub fn diverging(t: f64) -> RGBColor {
    let t = t.clamp(-1.0, 1.0);
    let fade = |v: f64| (255.0 * (1.0 - v)).round() as u8;
    if t < 0.0 {
        RGBColor(fade(-t), fade(-t * 0.6), 255)
    } else {
        RGBColor(255, fade(t * 0.6), fade(t))
    }
}

/// Ticks at round numbers inside `lo..hi`, about `wanted` of them.
pub fn ticks(lo: f64, hi: f64, wanted: usize) -> Vec<f64> {
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / wanted.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

fn tick_label(v: f64, step: f64) -> String {
    // As many decimals as the step needs (2.5 needs one, 0.05 two).
    let decimals = (0..6)
        .find(|&d| {
            let scaled = step * 10f64.powi(d);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.abs().max(1.0)
        })
        .unwrap_or(6) as usize;
    let text = format!("{v:.decimals$}");
    if text.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
        "0".into()
    } else {
        text
    }
}

/// A horizontal colour bar over `lo..hi` with ticks and `label` below it, filling `area`.
pub fn colourbar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lo: f64,
    hi: f64,
    colour: impl Fn(f64) -> RGBColor,
    label: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (width, height) = area.dim_in_pixel();
    let (left, right) = (40i32, width as i32 - 40);
    let (top, bar_height) = (4i32, (height as i32 / 3).clamp(8, 18));
    let span = (right - left).max(1);
    for x in left..right {
        let t = (x - left) as f64 / span as f64;
        area.draw(&Rectangle::new(
            [(x, top), (x + 1, top + bar_height)],
            colour(lo + t * (hi - lo)).filled(),
        ))?;
    }
    area.draw(&Rectangle::new(
        [(left, top), (right, top + bar_height)],
        BLACK.stroke_width(1),
    ))?;
    let ticks = ticks(lo, hi, 8);
    let step = if ticks.len() > 1 {
        ticks[1] - ticks[0]
    } else {
        (hi - lo).abs().max(1e-12)
    };
    let font: TextStyle = ("sans-serif", 14).into();
    for v in &ticks {
        let x = left + ((v - lo) / (hi - lo).max(1e-300) * span as f64).round() as i32;
        area.draw(&PathElement::new(
            vec![(x, top + bar_height), (x, top + bar_height + 4)],
            BLACK,
        ))?;
        let text = tick_label(*v, step);
        let (w, _) = area.estimate_text_size(&text, &font)?;
        area.draw(&Text::new(text, (x - w as i32 / 2, top + bar_height + 6), font.clone()))?;
    }
    let label_font: TextStyle = ("sans-serif", 15).into();
    let (w, _) = area.estimate_text_size(label, &label_font)?;
    area.draw(&Text::new(
        label.to_string(),
        ((width as i32 - w as i32) / 2, top + bar_height + 24),
        label_font,
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside() {
        assert_eq!(
            ticks(978.4, 1031.2, 6),
            vec![980.0, 990.0, 1000.0, 1010.0, 1020.0, 1030.0]
        );
        assert_eq!(ticks(-2.3, 2.3, 5), vec![-2.0, -1.0, 0.0, 1.0, 2.0]);
        assert_eq!(ticks(-2.3, 2.3, 3), vec![-2.0, 0.0, 2.0]);
        let t = ticks(0.0, 0.37, 6);
        assert!(t.iter().all(|v| (0.0..=0.37).contains(v)) && t.len() >= 3);
        assert_eq!(tick_label(-0.0, 1.0), "0");
        assert_eq!(tick_label(0.25, 0.05), "0.25");
        assert_eq!(tick_label(2.5, 2.5), "2.5");
        assert_eq!(tick_label(1010.0, 10.0), "1010");
    }

    #[test]
    fn scales_run_end_to_end() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(diverging(0.0), RGBColor(255, 255, 255));
        assert_eq!(diverging(-1.0).2, 255);
        assert_eq!(diverging(1.0).0, 255);
    }
}
