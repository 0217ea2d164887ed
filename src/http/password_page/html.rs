//! The password page's HTML: the form (with its error summary), and the pages for a password
//! stored, a link that does not open, and a failure. Structure only: every word comes from
//! the content (`intents/responses/password_page.toml`, and the chat's own rule texts), escaped
//! here. No script, no inline style: the page works without JavaScript under its strict CSP.

use crate::dialog::keys::ResponseKey;
use crate::engine::Engine;
use crate::security::page_token::PAGE_TOKEN_TTL;
use crate::security::password::PasswordRule;

/// The ids of the form's fields, which the error summary links to.
const NEW_FIELD: &str = "new-password";
const CONFIRM_FIELD: &str = "confirm-password";

/// Why a submission was refused, as the form shows it.
#[derive(Debug, Default)]
pub(super) struct Refusal {
    pub(super) broken: Vec<PasswordRule>,
    pub(super) mismatch: bool,
}

/// The form; with `refusal`, an error summary first and each field's own error.
pub(super) fn form(engine: &Engine, refusal: Option<&Refusal>) -> String {
    let text = |key: ResponseKey| escape(&engine.page_text(key, &[]));
    let minutes = (PAGE_TOKEN_TTL.as_secs() / 60).to_string();
    let intro = escape(&engine.page_text(ResponseKey::PageIntro, &[("minutes", &minutes)]));
    let rule = |rule: PasswordRule| text(ResponseKey::rule(rule));
    let rules: String = PasswordRule::ALL
        .iter()
        .map(|&r| format!("<li>{}</li>", rule(r)))
        .collect();
    let broken: &[PasswordRule] = refusal.map_or(&[], |r| r.broken.as_slice());
    let mismatch = refusal.is_some_and(|r| r.mismatch);

    // The summary names every problem, each a link to its field (WCAG 3.3.1, 3.3.3).
    let mut problems: Vec<(&str, String)> = broken.iter().map(|&r| (NEW_FIELD, rule(r))).collect();
    if mismatch {
        problems.push((CONFIRM_FIELD, text(ResponseKey::PageMismatch)));
    }
    let summary = if problems.is_empty() {
        String::new()
    } else {
        let items: String = problems
            .iter()
            .map(|(field, problem)| format!("<li><a href=\"#{field}\">{problem}</a></li>"))
            .collect();
        format!(
            "<div class=\"error-summary\" role=\"alert\" aria-labelledby=\"error-summary-title\" \
             tabindex=\"-1\" autofocus>\n<h2 id=\"error-summary-title\">{}</h2>\n\
             <ul>{items}</ul>\n</div>\n",
            text(ResponseKey::PageErrorsTitle)
        )
    };
    let new_error = (!broken.is_empty()).then(|| {
        let listed: Vec<String> = broken.iter().map(|&r| rule(r)).collect();
        listed.join("; ")
    });
    let confirm_error = mismatch.then(|| text(ResponseKey::PageMismatch));
    let title = match refusal {
        Some(_) => format!(
            "{}: {}",
            text(ResponseKey::PageErrorsTitle),
            text(ResponseKey::PageTitle)
        ),
        None => text(ResponseKey::PageTitle),
    };
    let main = format!(
        "<h1>{heading}</h1>\n{summary}<p>{intro}</p>\n\
         <form method=\"post\" novalidate>\n\
         {new}\
         {confirm}\
         <button type=\"submit\">{submit}</button>\n</form>\n",
        heading = text(ResponseKey::PageTitle),
        new = field(
            NEW_FIELD,
            "new_password",
            &text(ResponseKey::PageLabelNew),
            Some(&format!(
                "<p class=\"hint\" id=\"{NEW_FIELD}-rules-title\">{}</p>\n\
                 <ul class=\"hint rules\" id=\"{NEW_FIELD}-rules\">{rules}</ul>\n",
                text(ResponseKey::PageRulesTitle)
            )),
            new_error.as_deref(),
        ),
        confirm = field(
            CONFIRM_FIELD,
            "confirm_password",
            &text(ResponseKey::PageLabelConfirm),
            None,
            confirm_error.as_deref(),
        ),
        submit = text(ResponseKey::PageSubmit),
    );
    document(&title, &main)
}

/// One password field: its label, its hint, its error, and the input, all tied together for
/// screen readers (`aria-describedby`, `aria-invalid`).
fn field(id: &str, name: &str, label: &str, hint: Option<&str>, error: Option<&str>) -> String {
    let mut described = Vec::new();
    if hint.is_some() {
        described.push(format!("{id}-rules-title {id}-rules"));
    }
    if error.is_some() {
        described.push(format!("{id}-error"));
    }
    let described = if described.is_empty() {
        String::new()
    } else {
        format!(" aria-describedby=\"{}\"", described.join(" "))
    };
    let (class, invalid, error) = match error {
        Some(error) => (
            "field field--error",
            " aria-invalid=\"true\"",
            format!("<p class=\"field-error\" id=\"{id}-error\">{error}</p>\n"),
        ),
        None => ("field", "", String::new()),
    };
    // Never a `value`: a refused password is not sent back to the browser.
    format!(
        "<div class=\"{class}\">\n<label for=\"{id}\">{label}</label>\n{hint}{error}\
         <input id=\"{id}\" name=\"{name}\" type=\"password\" autocomplete=\"new-password\" \
         autocapitalize=\"off\" spellcheck=\"false\" required{invalid}{described}>\n</div>\n",
        hint = hint.unwrap_or_default(),
    )
}

/// The password is stored: back to the chat.
pub(super) fn done(engine: &Engine) -> String {
    message(
        engine,
        ResponseKey::PageDoneTitle,
        ResponseKey::PageDoneText,
    )
}

/// The link does not open (never saying why).
pub(super) fn gone(engine: &Engine) -> String {
    message(
        engine,
        ResponseKey::PageGoneTitle,
        ResponseKey::PageGoneText,
    )
}

/// Something failed on our side, or the request was not the form's.
pub(super) fn failed(engine: &Engine) -> String {
    message(
        engine,
        ResponseKey::PageErrorTitle,
        ResponseKey::ServiceUnavailable,
    )
}

fn message(engine: &Engine, title: ResponseKey, text: ResponseKey) -> String {
    let title = escape(&engine.page_text(title, &[]));
    let text = escape(&engine.page_text(text, &[]));
    document(&title, &format!("<h1>{title}</h1>\n<p>{text}</p>\n"))
}

/// The whole page around `main` (both already escaped). Paths are relative, so the page also
/// works behind a proxy that serves tanya under a prefix (`TANYA_PUBLIC_URL` with a path).
fn document(title: &str, main: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"id\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex, nofollow\">\n<title>{title}</title>\n\
         <link rel=\"stylesheet\" href=\"../password-page/page.css\">\n\
         <link rel=\"icon\" href=\"../favicon.svg\" type=\"image/svg+xml\">\n</head>\n<body>\n\
         <main class=\"page\">\n{main}</main>\n</body>\n</html>\n"
    )
}

/// `text` safe inside an element or a double-quoted attribute.
fn escape(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_the_content_is_shown_as_text() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn a_field_with_an_error_is_marked_invalid_and_described_by_it() {
        let html = field("f", "n", "Label", None, Some("Salah"));
        assert!(html.contains("aria-invalid=\"true\""), "{html}");
        assert!(html.contains("aria-describedby=\"f-error\""), "{html}");
        assert!(html.contains("<p class=\"field-error\" id=\"f-error\">Salah</p>"));
        assert!(!html.contains("value="), "never a value: {html}");
        let clean = field("f", "n", "Label", None, None);
        assert!(!clean.contains("aria-invalid") && !clean.contains("aria-describedby"));
    }
}
