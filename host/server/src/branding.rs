//! The portal's look: name, logo, colours, fonts, custom CSS and footer links.
//!
//! Branding reaches pages as CSS variables, so a customer re-themes the whole
//! portal from `[branding]` in `portico.toml`. Where a customer sets a name,
//! Portico's own name and logo appear nowhere. Values land inside `<style>` and
//! HTML attributes, so loading refuses any that could break out of them.

use serde::{Deserialize, Deserializer};

/// The `[branding]` table.
// `remote = "Self"` derives an inherent `deserialize`, which the `Deserialize`
// impl below wraps with validation, so a hostile value stops the start.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
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
            monospace_font_family: "ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace"
                .into(),
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

impl<'de> Deserialize<'de> for Branding {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let branding = Branding::deserialize(deserializer)?;
        branding.validate().map_err(serde::de::Error::custom)?;
        Ok(branding)
    }
}

/// Why a branding value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrandingError {
    /// The name is empty or holds control characters.
    #[error("branding.name must be a non-empty line of text")]
    Name,
    /// Not a colour this portal accepts.
    #[error(
        "branding.{field} = {value:?} is not a colour: use #rgb, #rrggbb, #rrggbbaa, rgb(..), hsl(..), oklch(..) or a colour name"
    )]
    Color {
        /// The key.
        field: &'static str,
        /// The refused value.
        value: String,
    },
    /// Not a plain list of font families.
    #[error(
        "branding.{field} = {value:?} is not a font list: use names separated by commas, quoting names with spaces ('Segoe UI')"
    )]
    Font {
        /// The key.
        field: &'static str,
        /// The refused value.
        value: String,
    },
    /// A URL with a scheme or characters the portal does not link to.
    #[error("branding.{field} = {value:?} is not an allowed URL: {allowed}")]
    Url {
        /// The key.
        field: &'static str,
        /// The refused value.
        value: String,
        /// What would be accepted.
        allowed: &'static str,
    },
    /// Custom CSS that could close the `<style>` element it is placed in.
    #[error("branding.custom_css must not contain `</` or `<!--`")]
    CustomCss,
}

const LOGO_URLS: &str = "https:// or http:// URLs, paths starting with /, or data:image/... URLs";
const LINK_URLS: &str =
    "https:// or http:// URLs, mailto: addresses, or paths starting with / or #";

impl Branding {
    /// Checks every value that ends up in CSS or HTML; the first problem found is the error.
    pub fn validate(&self) -> Result<(), BrandingError> {
        if self.name.trim().is_empty() || self.name.chars().any(char::is_control) {
            return Err(BrandingError::Name);
        }
        for (field, value) in self.colors() {
            if !is_css_color(value) {
                return Err(BrandingError::Color {
                    field,
                    value: value.clone(),
                });
            }
        }
        for (field, value) in self.fonts() {
            if !is_font_family_list(value) {
                return Err(BrandingError::Font {
                    field,
                    value: value.clone(),
                });
            }
        }
        if let Some(url) = self.logo_url.as_ref().filter(|u| !is_logo_url(u)) {
            return Err(BrandingError::Url {
                field: "logo_url",
                value: url.clone(),
                allowed: LOGO_URLS,
            });
        }
        if let Some(link) = self.footer_links.iter().find(|l| !is_link_url(&l.url)) {
            return Err(BrandingError::Url {
                field: "footer_links.url",
                value: link.url.clone(),
                allowed: LINK_URLS,
            });
        }
        if self
            .custom_css
            .as_deref()
            .is_some_and(|css| !is_safe_style_text(css))
        {
            return Err(BrandingError::CustomCss);
        }
        Ok(())
    }

    /// A copy fit for pages: every value that fails [`Branding::validate`] is
    /// replaced by the default or dropped. Loading already refuses such values;
    /// this covers branding built in code.
    pub fn sanitized(&self) -> Branding {
        let default = Branding::default();
        let pick = |value: &String, ok: fn(&str) -> bool, fallback: &String| {
            if ok(value) {
                value.clone()
            } else {
                fallback.clone()
            }
        };
        let name_ok = !self.name.trim().is_empty() && !self.name.chars().any(char::is_control);
        Branding {
            name: if name_ok {
                self.name.clone()
            } else {
                default.name.clone()
            },
            logo_url: self.logo_url.clone().filter(|u| is_logo_url(u)),
            primary_color: pick(&self.primary_color, is_css_color, &default.primary_color),
            accent_color: pick(&self.accent_color, is_css_color, &default.accent_color),
            background_color: pick(
                &self.background_color,
                is_css_color,
                &default.background_color,
            ),
            text_color: pick(&self.text_color, is_css_color, &default.text_color),
            font_family: pick(&self.font_family, is_font_family_list, &default.font_family),
            monospace_font_family: pick(
                &self.monospace_font_family,
                is_font_family_list,
                &default.monospace_font_family,
            ),
            custom_css: self
                .custom_css
                .clone()
                .filter(|css| is_safe_style_text(css)),
            footer_links: self
                .footer_links
                .iter()
                .filter(|l| is_link_url(&l.url))
                .cloned()
                .collect(),
        }
    }

    /// The `:root { --color-*; --font-* }` rule that themes every page, from the
    /// sanitised values, so it is safe to place raw inside `<style>`.
    pub fn css_variables(&self) -> String {
        let b = self.sanitized();
        format!(
            ":root{{--color-primary:{};--color-accent:{};--color-bg:{};--color-text:{};--font-body:{};--font-mono:{}}}",
            b.primary_color,
            b.accent_color,
            b.background_color,
            b.text_color,
            b.font_family,
            b.monospace_font_family
        )
    }

    fn colors(&self) -> [(&'static str, &String); 4] {
        [
            ("primary_color", &self.primary_color),
            ("accent_color", &self.accent_color),
            ("background_color", &self.background_color),
            ("text_color", &self.text_color),
        ]
    }

    fn fonts(&self) -> [(&'static str, &String); 2] {
        [
            ("font_family", &self.font_family),
            ("monospace_font_family", &self.monospace_font_family),
        ]
    }
}

/// Colour functions accepted with plain numeric arguments.
const COLOR_FUNCTIONS: [&str; 10] = [
    "rgb", "rgba", "hsl", "hsla", "hwb", "lab", "lch", "oklab", "oklch", "color",
];

/// A hex colour, a colour function of numbers, or a keyword: nothing that can end a
/// declaration (`;`, `}`), open a string, escape (`\`) or start a tag (`<`).
fn is_css_color(value: &str) -> bool {
    if let Some(hex) = value.strip_prefix('#') {
        return matches!(hex.len(), 3 | 4 | 6 | 8) && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some((function, rest)) = value.split_once('(') {
        let Some(args) = rest.strip_suffix(')') else {
            return false;
        };
        return COLOR_FUNCTIONS.contains(&function.to_ascii_lowercase().as_str())
            && !args.trim().is_empty()
            && args
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " .,%/+-".contains(c));
    }
    !value.is_empty() && value.len() <= 32 && value.chars().all(|c| c.is_ascii_alphabetic())
}

/// Comma-separated family names, each a quoted name or bare words, of letters,
/// digits, spaces, `-`, `_` and `.` only: quotes always balance and nothing
/// can end the declaration.
fn is_font_family_list(value: &str) -> bool {
    let plain = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " -_.".contains(c))
    };
    value.len() <= 300
        && value.split(',').all(|family| {
            let family = family.trim();
            let quoted = ['\'', '"']
                .iter()
                .find_map(|q| family.strip_prefix(*q).and_then(|f| f.strip_suffix(*q)));
            match quoted {
                Some(inner) => !inner.trim().is_empty() && plain(inner),
                None => {
                    family.starts_with(|c: char| c.is_ascii_alphabetic() || c == '-')
                        && plain(family)
                }
            }
        })
}

/// An http(s) URL or a path, without characters that would need escaping in HTML.
fn is_plain_url(url: &str) -> bool {
    let rest = if let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    {
        rest
    } else if url.starts_with('/') {
        url
    } else {
        return false;
    };
    !rest.is_empty()
        && url
            .chars()
            .all(|c| c.is_ascii_graphic() && !"\"'<>`\\".contains(c))
}

fn is_logo_url(url: &str) -> bool {
    const IMAGE_TYPES: [&str; 6] = ["png", "jpeg", "gif", "webp", "avif", "svg+xml"];
    if let Some(rest) = url.strip_prefix("data:image/") {
        // Images never run scripts, and the attribute it lands in is escaped.
        let Some((media, _data)) = rest.split_once(',') else {
            return false;
        };
        let media = media.strip_suffix(";base64").unwrap_or(media);
        return IMAGE_TYPES.contains(&media) && !url.chars().any(char::is_control);
    }
    is_plain_url(url)
}

fn is_link_url(url: &str) -> bool {
    if let Some(address) = url.strip_prefix("mailto:") {
        return address.contains('@')
            && address
                .chars()
                .all(|c| c.is_ascii_graphic() && !"\"'<>`\\".contains(c));
    }
    if url.starts_with('#') {
        return url
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "#-_.".contains(c));
    }
    is_plain_url(url)
}

/// Text placed raw inside `<style>`: only an end tag can leave that element,
/// and comment openers are refused too for old parsers.
fn is_safe_style_text(css: &str) -> bool {
    !css.contains("</") && !css.contains("<!--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_branding_is_valid() {
        assert_eq!(Branding::default().validate(), Ok(()));
        assert_eq!(Branding::default().sanitized(), Branding::default());
    }

    #[test]
    fn common_colours_are_accepted() {
        for ok in [
            "#abc",
            "#0B6E4F",
            "#0b6e4f80",
            "rgb(11 110 79)",
            "rgba(0,0,0,.5)",
            "hsl(210 40% 50% / 0.8)",
            "oklch(62% 0.19 259)",
            "rebeccapurple",
            "transparent",
        ] {
            assert!(is_css_color(ok), "{ok}");
        }
    }

    #[test]
    fn colours_that_could_escape_the_declaration_are_refused() {
        for bad in [
            "red;}body{display:none",
            "#12345",
            "url(x)",
            "rgb(1,2,3);x:y",
            "</style><script>",
            "expression(alert(1))",
            "",
            "red blue",
            "var(--x)",
        ] {
            assert!(!is_css_color(bad), "{bad}");
        }
    }

    #[test]
    fn font_lists_with_balanced_plain_names_are_accepted() {
        assert!(is_font_family_list(
            "'Inter', system-ui, -apple-system, \"Segoe UI\", sans-serif"
        ));
        for bad in [
            "Inter;}",
            "'Inter",
            "Inter'",
            "'a'b'",
            "x</style>",
            "a\\61",
            "a{b}",
            "'', serif",
        ] {
            assert!(!is_font_family_list(bad), "{bad}");
        }
    }

    #[test]
    fn urls_are_limited_to_safe_schemes() {
        assert!(is_logo_url("https://acme.example/logo.svg"));
        assert!(is_logo_url("/static/logo.png"));
        assert!(is_logo_url(
            "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'/>"
        ));
        assert!(is_logo_url("data:image/png;base64,iVBORw0KGgo="));
        assert!(!is_logo_url("javascript:alert(1)"));
        assert!(!is_logo_url("data:text/html,<script>alert(1)</script>"));
        assert!(!is_logo_url("https://x.example/\" onerror=\"alert(1)"));
        assert!(is_link_url("mailto:api@acme.example"));
        assert!(is_link_url("#top"));
        assert!(!is_link_url("javascript:alert(1)"));
        assert!(!is_link_url("JaVaScRiPt:alert(1)"));
        assert!(!is_link_url("data:text/html,hi"));
    }

    #[test]
    fn loading_refuses_a_hostile_value_and_names_the_key() {
        let err = toml::from_str::<Branding>("primary_color = \"red;}body{display:none\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("branding.primary_color"), "{err}");
        let err = toml::from_str::<Branding>("custom_css = \"</style><script>alert(1)</script>\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("custom_css"), "{err}");
        assert!(
            toml::from_str::<Branding>("colour = \"red\"").is_err(),
            "unknown keys still fail"
        );
        let ok =
            toml::from_str::<Branding>("name = \"Acme\"\nprimary_color = \"#0b6e4f\"").unwrap();
        assert_eq!(ok.primary_color, "#0b6e4f");
        assert_eq!(
            ok.accent_color,
            Branding::default().accent_color,
            "defaults still fill in"
        );
    }

    #[test]
    fn sanitising_replaces_bad_values_with_defaults() {
        let hostile = Branding {
            name: "Acme".into(),
            primary_color: "red;}</style><script>alert(1)</script>".into(),
            font_family: "x;}*{display:none".into(),
            logo_url: Some("javascript:alert(1)".into()),
            custom_css: Some("a{}</style><script>alert(1)</script>".into()),
            footer_links: vec![
                FooterLink {
                    label: "Bad".into(),
                    url: "javascript:alert(1)".into(),
                },
                FooterLink {
                    label: "Good".into(),
                    url: "https://acme.example".into(),
                },
            ],
            ..Branding::default()
        };
        let clean = hostile.sanitized();
        assert_eq!(clean.validate(), Ok(()));
        assert_eq!(clean.primary_color, Branding::default().primary_color);
        assert_eq!(clean.font_family, Branding::default().font_family);
        assert_eq!(clean.logo_url, None);
        assert_eq!(clean.custom_css, None);
        assert_eq!(clean.footer_links.len(), 1);
        let vars = hostile.css_variables();
        assert!(!vars.contains('<') && !vars.contains("script"), "{vars}");
    }
}
