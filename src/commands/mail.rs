//! `hitl send-test-email ADDRESS`: checks the SMTP settings and says, in one line,
//! what to change when they do not work.

use std::process::ExitCode;

use super::fail;
use crate::cli::SmtpArgs;
use crate::config::smtp_settings;
use crate::notify::dns::Dns;
use crate::notify::email;

pub fn send_test(address: &str, args: &SmtpArgs) -> ExitCode {
    let smtp = match smtp_settings(args) {
        Ok(Some(smtp)) => smtp,
        Ok(None) => return fail("no --smtp-url (or HITL_SMTP_URL): mail is off"),
        Err(e) => return fail(e),
    };
    let dns = match Dns::new() {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let message = match email::test_message(&smtp.from, address) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    eprintln!(
        "Sending a test mail to {address} through {} …",
        smtp.describe()
    );
    let attempt = smtp.send(&dns, &message);
    match attempt.error {
        None => {
            say!(
                "sent: the server accepted the test mail for {address} in {} ms",
                attempt.duration_ms
            );
            ExitCode::SUCCESS
        }
        Some(error) => fail(format!("the test mail was not sent: {error}")),
    }
}
