//! The portal's look: name, logo, colours, fonts, custom CSS and footer links.
//!
//! Branding reaches pages as CSS variables, so a customer re-themes the whole
//! portal from `[branding]` in `portico.toml`. Where a customer sets a name,
//! Portico's own name and logo appear nowhere.

use serde::Deserialize;

/// The `[branding]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Branding {
    /// The portal's name, shown in the header and the title of every page.
    pub name: String,
    /// URL of the logo image; none: the name alone.
    pub logo_url: Option<String>,
    /// Primary colour (header, buttons, links).
    pub primary_color: String,
    /// Accent colour (highlights).
    pub accent_color: String,
    /// Page background.
    pub background_color: String,
    /// Body text.
    pub text_color: String,
    /// CSS font-family for text.
    pub font_family: String,
    /// CSS font-family for code.
    pub monospace_font_family: String,
    /// Extra CSS appended after the portal's own.
    pub custom_css: Option<String>,
    /// Links in the footer.
    pub footer_links: Vec<FooterLink>,
}

/// A footer link.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FooterLink {
    /// The link's text.
    pub label: String,
    /// Where it goes.
    pub url: String,
}

/// Portico's own name, used only when the operator sets none.
pub const PORTICO_NAME: &str = "Portico";

impl Default for Branding {
    fn default() -> Self {
        Branding {
            name: PORTICO_NAME.into(),
            logo_url: None,
            primary_color: "#3b3f8f".into(),
            accent_color: "#e0a526".into(),
            background_color: "#f7f7fb".into(),
            text_color: "#1d1d29".into(),
            font_family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif".into(),
            monospace_font_family: "ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace".into(),
            custom_css: None,
            footer_links: Vec::new(),
        }
    }
}

impl Branding {
    /// Whether the operator replaced Portico's name with their own.
    pub fn is_white_label(&self) -> bool {
        self.name != PORTICO_NAME
    }

    /// The theme handed to plugins that render (docs, widgets).
    pub fn theme(&self) -> portico_runtime::worlds::Theme {
        portico_runtime::worlds::Theme {
            primary_color: self.primary_color.clone(),
            accent_color: self.accent_color.clone(),
            background_color: self.background_color.clone(),
            text_color: self.text_color.clone(),
            font_family: self.font_family.clone(),
            monospace_font_family: self.monospace_font_family.clone(),
            dark: false,
        }
    }
}
