//! The mails the platform sends: a subject, a plain-text part and an HTML part per template,
//! rendered with minijinja (HTML parts auto-escape every value, so parameters cannot inject
//! markup).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use minijinja::value::{Serde, Value};
use minijinja::{AutoEscape, Environment, context};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    Welcome,
    ForgotPassword,
    VerifyEmail,
    Test,
    MagicLink,
}

impl Template {
    pub const ALL: [Template; 5] = [
        Template::Welcome,
        Template::ForgotPassword,
        Template::VerifyEmail,
        Template::Test,
        Template::MagicLink,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Template::Welcome => "WELCOME",
            Template::ForgotPassword => "FORGOT_PASSWORD",
            Template::VerifyEmail => "VERIFY_EMAIL",
            Template::Test => "TEST",
            Template::MagicLink => "MAGIC_LINK",
        }
    }

    pub fn parse(name: &str) -> Option<Template> {
        Template::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Parameters without which the mail makes no sense.
    pub fn required(self) -> &'static [&'static str] {
        match self {
            Template::ForgotPassword | Template::VerifyEmail | Template::MagicLink => &["link"],
            Template::Welcome | Template::Test => &[],
        }
    }

    pub fn names() -> String {
        Template::ALL.map(Template::name).join(", ")
    }
}

/// A mail ready for SMTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

const LAYOUT: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #222;">
<h2>{{ displayName }}</h2>
{{ content }}
</body></html>
"#;

/// (name, subject, text, html) of every template.
const SOURCES: [(&str, &str, &str, &str); 5] = [
    (
        "WELCOME",
        "Welcome to {{ displayName }}",
        "Hello{% if params.firstName %} {{ params.firstName }}{% endif %},\n\n\
         your account at {{ displayName }} is ready.\n\
         {% if params.portalUrl %}\nSign in at {{ params.portalUrl }}\n{% endif %}\
         {% if params.iosLink %}\nThe app for iOS: {{ params.iosLink }}\n{% endif %}\
         {% if params.androidLink %}\nThe app for Android: {{ params.androidLink }}\n{% endif %}",
        "<p>Hello{% if params.firstName %} {{ params.firstName }}{% endif %},</p>\n\
         <p>your account at {{ displayName }} is ready.</p>\n\
         {% if params.portalUrl %}<p><a href=\"{{ params.portalUrl }}\">Sign in</a></p>\n{% endif %}\
         {% if params.iosLink %}<p><a href=\"{{ params.iosLink }}\">The app for iOS</a></p>\n{% endif %}\
         {% if params.androidLink %}<p><a href=\"{{ params.androidLink }}\">The app for Android</a></p>\n{% endif %}",
    ),
    (
        "FORGOT_PASSWORD",
        "Reset your {{ displayName }} password",
        "Someone asked to reset the password of your {{ displayName }} account\
         {% if params.appName %} for {{ params.appName }}{% endif %}.\n\n\
         To choose a new password, open this link\
         {% if params.expiresInMinutes %} within {{ params.expiresInMinutes }} minutes{% endif %}:\n\
         {{ params.link }}\n\n\
         If this was not you, ignore this mail: your password stays as it is.\n\
         {% if params.supportEmail %}Questions? Write to {{ params.supportEmail }}\n{% endif %}",
        "<p>Someone asked to reset the password of your {{ displayName }} account\
         {% if params.appName %} for {{ params.appName }}{% endif %}.</p>\n\
         <p><a href=\"{{ params.link }}\">Choose a new password</a>\
         {% if params.expiresInMinutes %} (the link works for {{ params.expiresInMinutes }} minutes){% endif %}.</p>\n\
         <p>If this was not you, ignore this mail: your password stays as it is.</p>\n\
         {% if params.supportEmail %}<p>Questions? Write to {{ params.supportEmail }}</p>\n{% endif %}",
    ),
    (
        "VERIFY_EMAIL",
        "Verify your email address for {{ displayName }}",
        "Please confirm that this is your email address for {{ displayName }} by opening this link\
         {% if params.expiresInMinutes %} within {{ params.expiresInMinutes }} minutes{% endif %}:\n\
         {{ params.link }}\n\n\
         If you did not create an account, ignore this mail.\n",
        "<p>Please confirm that this is your email address for {{ displayName }}.</p>\n\
         <p><a href=\"{{ params.link }}\">Verify my email address</a>\
         {% if params.expiresInMinutes %} (the link works for {{ params.expiresInMinutes }} minutes){% endif %}.</p>\n\
         <p>If you did not create an account, ignore this mail.</p>\n",
    ),
    (
        "TEST",
        "Test message from {{ displayName }}",
        "This is a test message from {{ displayName }}: its mail settings work.\n",
        "<p>This is a test message from {{ displayName }}: its mail settings work.</p>\n",
    ),
    (
        "MAGIC_LINK",
        "Your sign-in link for {{ displayName }}",
        "To sign in to {{ displayName }}, open this link\
         {% if params.expiresInMinutes %} within {{ params.expiresInMinutes }} minutes{% endif %}:\n\
         {{ params.link }}\n\n\
         The link works once. If you did not ask for it, ignore this mail.\n",
        "<p><a href=\"{{ params.link }}\">Sign in to {{ displayName }}</a>\
         {% if params.expiresInMinutes %} (the link works for {{ params.expiresInMinutes }} minutes){% endif %}.</p>\n\
         <p>The link works once. If you did not ask for it, ignore this mail.</p>\n",
    ),
];

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // `.html` escapes for HTML; subjects and text parts are not markup.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.add_template("layout.html", LAYOUT)
        .expect("the layout template parses");
    for (name, subject, text, html) in SOURCES {
        for (part, source) in [("subject", subject), ("txt", text), ("html", html)] {
            env.add_template_owned(format!("{name}.{part}"), source)
                .expect("the built-in templates parse");
        }
    }
    env
});

/// Renders `template` for the tenant shown as `display_name`. Absent optional parameters
/// leave their sentence out.
pub fn render(
    template: Template,
    display_name: &str,
    params: &BTreeMap<String, String>,
) -> Result<Rendered, String> {
    let context = context! {
        displayName => display_name,
        params => Value::from(Serde(params)),
    };
    let part = |suffix: &str| -> Result<String, String> {
        TEMPLATES
            .get_template(&format!("{}.{suffix}", template.name()))
            .and_then(|t| t.render(context.clone()))
            .map_err(|e| format!("template {}: {e}", template.name()))
    };
    // A subject is one header line.
    let subject = part("subject")?
        .split(['\r', '\n'])
        .collect::<Vec<_>>()
        .join(" ");
    let text = part("txt")?;
    // The body is escaped already: the layout takes it as it is.
    let content = Value::from_safe_string(part("html")?);
    let html = TEMPLATES
        .get_template("layout.html")
        .and_then(|t| {
            t.render(context! { subject => subject.as_str(), displayName => display_name, content })
        })
        .map_err(|e| format!("layout: {e}"))?;
    Ok(Rendered {
        subject,
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_template_renders_with_the_tenant_name() {
        for t in Template::ALL {
            let r = render(t, "Acme Corp", &params(&[("link", "https://x.example/a")])).unwrap();
            assert!(r.subject.contains("Acme Corp"), "{t:?}: {}", r.subject);
            assert!(r.text.contains("Acme Corp"), "{t:?}");
            assert!(r.html.contains("Acme Corp"), "{t:?}");
            assert!(r.html.starts_with("<!DOCTYPE html>"), "{t:?}");
            assert_eq!(Template::parse(t.name()), Some(t));
        }
        assert_eq!(Template::parse("welcome"), None);
    }

    #[test]
    fn parameters_are_escaped_in_html_only() {
        let p = params(&[
            ("link", "https://x.example/?a=1&b=<2>"),
            ("appName", "<script>alert(1)</script>"),
        ]);
        let r = render(Template::ForgotPassword, "A & B <Co>", &p).unwrap();
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(
            r.html
                .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{}",
            r.html
        );
        assert!(r.html.contains("A &amp; B &lt;Co&gt;"), "{}", r.html);
        assert!(
            r.html
                .contains("href=\"https:&#x2f;&#x2f;x.example&#x2f;?a=1&amp;b=&lt;2&gt;\""),
            "{}",
            r.html
        );
        assert!(r.text.contains("<script>alert(1)</script>"));
        assert!(r.text.contains("https://x.example/?a=1&b=<2>"));
        assert_eq!(r.subject, "Reset your A & B <Co> password");
    }

    #[test]
    fn optional_sentences_follow_their_parameters() {
        let bare = render(Template::Welcome, "Acme", &BTreeMap::new()).unwrap();
        assert!(!bare.text.contains("Sign in at"));
        let full = render(
            Template::Welcome,
            "Acme",
            &params(&[
                ("portalUrl", "https://portal.example"),
                ("firstName", "Bob"),
            ]),
        )
        .unwrap();
        assert!(full.text.contains("Hello Bob,"), "{}", full.text);
        assert!(full.text.contains("Sign in at https://portal.example"));
    }

    #[test]
    fn a_subject_is_one_line() {
        let r = render(Template::Test, "Evil\r\nBcc: x@y.example", &BTreeMap::new()).unwrap();
        assert!(
            !r.subject.contains('\n') && !r.subject.contains('\r'),
            "{}",
            r.subject
        );
    }
}
