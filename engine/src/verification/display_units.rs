//! The units a forecaster reads a chart in: pressure in hPa, temperature in °C, everything else
//! as stored; always stated on the chart.

use vejr_ingest::units::{self, Conversion, Quantity};

#[derive(Clone, Debug)]
pub struct DisplayUnits {
    /// What the axis or colour bar says ("hPa", "°C", "m s-1"; "" when the field has none).
    pub label: String,
    /// Field values: stored → displayed.
    field: Option<Conversion>,
    /// Differences and RMSE: the conversion's scale alone (a kelvin of error is a degree).
    pub difference_scale: f64,
    /// What differences are stated in (a temperature error in K, not °C).
    pub difference_label: String,
    /// The field is a pressure (isobars are drawn).
    pub is_pressure: bool,
}

impl DisplayUnits {
    pub fn of(stored: Option<&str>) -> Self {
        let as_stored = |label: &str| Self {
            label: label.to_string(),
            difference_label: label.to_string(),
            field: None,
            difference_scale: 1.0,
            is_pressure: false,
        };
        let Some(stored) = stored.map(str::trim).filter(|u| !u.is_empty()) else {
            return as_stored("");
        };
        for (target, label) in [("hPa", "hPa"), ("degC", "°C")] {
            if let Ok(conversion) = units::conversion(stored, target, Quantity::default()) {
                return Self {
                    label: label.to_string(),
                    difference_label: if label == "°C" { "K" } else { label }.to_string(),
                    difference_scale: conversion.as_ref().map_or(1.0, |c| c.scale),
                    field: conversion,
                    is_pressure: target == "hPa",
                };
            }
        }
        as_stored(stored)
    }

    pub fn field(&self, values: &[f32]) -> Vec<f64> {
        values
            .iter()
            .map(|&v| match &self.field {
                Some(c) => c.scale * v as f64 + c.offset,
                None => v as f64,
            })
            .collect()
    }

    /// `" (hPa)"`, or nothing for a field without units.
    pub fn in_brackets(&self) -> String {
        bracket(&self.label)
    }

    /// The same for differences: `" (K)"` for a temperature shown in °C.
    pub fn difference_in_brackets(&self) -> String {
        bracket(&self.difference_label)
    }
}

fn bracket(label: &str) -> String {
    if label.is_empty() {
        String::new()
    } else {
        format!(" ({label})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pressure_in_hectopascal_temperature_in_celsius_winds_as_stored() {
        let p = DisplayUnits::of(Some("Pa"));
        assert_eq!((p.label.as_str(), p.is_pressure), ("hPa", true));
        assert_eq!(p.field(&[101325.0]), vec![1013.25]);
        assert!((p.difference_scale - 0.01).abs() < 1e-12);

        let t = DisplayUnits::of(Some("K"));
        assert_eq!(t.label, "°C");
        assert!((t.field(&[273.15])[0]).abs() < 1e-4);
        assert_eq!(t.difference_scale, 1.0);
        assert_eq!(t.difference_in_brackets(), " (K)");

        let u = DisplayUnits::of(Some("m s-1"));
        assert_eq!((u.label.as_str(), u.difference_scale), ("m s-1", 1.0));
        assert_eq!(DisplayUnits::of(None).in_brackets(), "");
        assert_eq!(DisplayUnits::of(Some("hPa")).field(&[1000.0]), vec![1000.0]);
    }
}
