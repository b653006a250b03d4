//! The SMTP side: the transport `[mail]` describes, the mail a notice becomes, and what a
//! failed exchange means for the message (a nak with the stage's backoff, or a dead
//! letter).

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use super::notice::{Event, Notice};
use crate::ids::{Kind, UploaderId};
use crate::settings::{MailSettings, Settings};
use crate::web::failure;
use crate::worker::Transience;

/// Why a mail did not go, by what happens to its notice next.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// `[mail]` cannot build a transport or a sender (`from`): an operator's fix.
    #[error("mail settings: {0}; check [mail] smtp_url, host and from")]
    Settings(String),
    /// The recipient's address is no address: never deliverable.
    #[error("the address {address:?} of uploader {uploader} is not an e-mail address")]
    Address { uploader: UploaderId, address: String },
    /// The server answered 5xx (or the exchange broke the protocol): sending again will
    /// not help.
    #[error("the SMTP server refused the mail for good: {0}")]
    Permanent(String),
    /// Unreachable, timed out, 4xx: a later attempt may go through.
    #[error("the SMTP server could not take the mail now: {0}")]
    Transient(String),
}

impl Transience for SendError {
    fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient(_))
    }
}

/// Classifies lettre's error: only a 5xx answer, or an error of the message itself, is
/// permanent. Connection trouble, timeouts, TLS hiccups and 4xx answers are transient.
fn classify(error: lettre::transport::smtp::Error) -> SendError {
    if error.is_permanent() || error.is_client() {
        SendError::Permanent(error.to_string())
    } else {
        SendError::Transient(error.to_string())
    }
}

/// A connection to the SMTP server `[mail]` names.
#[derive(Clone)]
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the URL's credentials.
        f.debug_struct("Smtp").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl Smtp {
    pub fn new(mail: &MailSettings) -> Result<Smtp, SendError> {
        let from: Mailbox = mail.from.parse().map_err(|e| SendError::Settings(format!("from {:?}: {e}", mail.from)))?;
        let url = mail.smtp_url.as_ref().map(|u| u.expose_secret().to_owned()).filter(|u| !u.trim().is_empty());
        let builder = match url {
            Some(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
                // lettre's message may quote the URL: say only which key is wrong.
                .map_err(|_| SendError::Settings("smtp_url is not an smtp:// or smtps:// URL".into()))?,
            None => {
                let builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(mail.host.as_str()).port(mail.port);
                if mail.starttls {
                    let tls = TlsParameters::new(mail.host.clone()).map_err(|e| SendError::Settings(e.to_string()))?;
                    builder.tls(Tls::Required(tls))
                } else {
                    builder
                }
            }
        };
        Ok(Smtp { transport: builder.timeout(Some(mail.timeout)).build(), from })
    }

    /// Sends `mail` to `to`.
    pub async fn send(&self, mail: Message) -> Result<(), SendError> {
        self.transport.send(mail).await.map(drop).map_err(classify)
    }

    /// The mail of `notice` to `to`, with `message_id`.
    pub fn compose(
        &self,
        settings: &Settings,
        notice: &Notice,
        to: &str,
        message_id: &str,
    ) -> Result<Message, SendError> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| SendError::Address { uploader: notice.uploader_id.clone(), address: to.to_owned() })?;
        let (subject, body) = words(settings, notice);
        Message::builder()
            .message_id(Some(message_id.to_owned()))
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| SendError::Permanent(format!("the mail cannot be built: {e}")))
    }

    /// `<{document}.{round}.{event}@{the sender's domain}>`: the same for every attempt,
    /// so a mail sent twice after a crash reads as one to mail clients.
    pub fn message_id(&self, notice: &Notice) -> String {
        format!("<{}@{}>", notice.message_id(), self.from.email.domain())
    }
}

/// The subject and plain-text body of `notice`'s mail: the same words as the web pages.
pub fn words(settings: &Settings, notice: &Notice) -> (String, String) {
    let base = settings.gateway.public_url.trim_end_matches('/');
    let name = failure::original_name(&notice.key);
    let what = match notice.kind {
        Kind::Document => "lesson plan",
        Kind::Video => "video",
    };
    match notice.event {
        Event::Ready => (
            format!("Ready: {name}"),
            format!(
                "Your {what} \"{name}\" has been checked and its results are ready.\n\n\
                 Read them: {base}/ui/documents/{id}\n\n\
                 -- docflow\n\
                 You receive this because your address is registered for docflow's notices.\n",
                id = notice.document_id
            ),
        ),
        Event::NeedsAction => {
            let said = failure::words(notice.cause, notice.reason.as_deref().unwrap_or(""));
            (
                format!("Needs a new version: {name}"),
                format!(
                    "Your {what} \"{name}\" could not be processed.\n\n{}\n{}\n\n\
                     Upload a new version: {base}{}\n\
                     What happened: {base}/ui/documents/{id}\n\n\
                     -- docflow\n\
                     You receive this because your address is registered for docflow's notices.\n",
                    said.headline,
                    said.explanation,
                    failure::new_version_href(notice.kind, &notice.key),
                    id = notice.document_id
                ),
            )
        }
    }
}
