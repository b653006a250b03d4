//! Each provider's breaker lives in the memory of the processes that run the transfer
//! stage, so the overview asks them: every `docflow run` process answers requests on
//! `{prefix}.ops.breakers` (a plain subscription, not a queue group: every process
//! answers one request), and the asker gathers the answers that arrive within a short
//! deadline. A process that does not answer in time is simply not listed; the overview
//! names the processes that did.

use std::time::Duration;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::overview::{ProcessAnswer, breaker_table};
use crate::nats::Names;

/// The subject every run process answers on.
pub fn subject(names: &Names) -> String {
    names.subject("ops.breakers")
}

/// Who this process is, for its answers: `host:pid`, its admin listener, what it runs.
#[derive(Debug, Clone)]
pub struct Identity {
    pub process: String,
    pub admin: String,
    pub components: Vec<String>,
}

impl Identity {
    pub fn of_this_process(admin: String, components: Vec<String>) -> Identity {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        Identity { process: format!("{host}:{}", std::process::id()), admin, components }
    }

    /// This process's answer now.
    pub fn answer(&self) -> ProcessAnswer {
        ProcessAnswer {
            process: self.process.clone(),
            admin: self.admin.clone(),
            components: self.components.clone(),
            breakers: breaker_table(crate::provider::breaker::states()),
        }
    }
}

/// Answers every request on [`subject`] with this process's breakers until `shutdown`.
/// Returns once subscribed, so a request made after it returns is answered.
pub async fn serve(
    client: async_nats::Client,
    names: &Names,
    identity: Identity,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, async_nats::SubscribeError> {
    let mut requests = client.subscribe(subject(names)).await?;
    Ok(tokio::spawn(async move {
        loop {
            let request = tokio::select! {
                () = shutdown.cancelled() => break,
                request = requests.next() => match request { Some(request) => request, None => break },
            };
            let Some(reply) = request.reply else { continue };
            let body = serde_json::to_vec(&identity.answer()).expect("an answer serializes");
            if let Err(error) = client.publish(reply, body.into()).await {
                tracing::debug!(%error, "could not answer a breakers request");
            }
        }
        requests.unsubscribe().await.ok();
    }))
}

/// Asks every run process and gathers the answers that arrive within `within`, sorted by
/// process. Answers that do not parse are skipped (another docflow version).
pub async fn gather(client: &async_nats::Client, names: &Names, within: Duration) -> Vec<ProcessAnswer> {
    let inbox = client.new_inbox();
    let Ok(mut replies) = client.subscribe(inbox.clone()).await else { return Vec::new() };
    if client.publish_with_reply(subject(names), inbox, bytes::Bytes::new()).await.is_err() {
        return Vec::new();
    }
    client.flush().await.ok();
    let mut answers = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, replies.next()).await {
        if let Ok(answer) = serde_json::from_slice::<ProcessAnswer>(&message.payload) {
            answers.push(answer);
        }
    }
    replies.unsubscribe().await.ok();
    answers.sort_by(|a, b| a.process.cmp(&b.process));
    answers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    #[tokio::test]
    async fn every_serving_process_answers_and_the_asker_gathers_them_all() {
        let url = testkit::nats_url();
        let names = Names::new(&testkit::random_prefix());
        let (client, _js) = testkit::connect(&url).await;
        let shutdown = CancellationToken::new();
        for (process, components) in [("a:1", vec!["transfer".to_owned()]), ("b:2", vec!["gateway".to_owned()])] {
            let identity = Identity { process: process.into(), admin: "127.0.0.1:1".into(), components };
            serve(client.clone(), &names, identity, shutdown.clone()).await.unwrap();
        }
        client.flush().await.unwrap();
        let answers = gather(&client, &names, Duration::from_millis(500)).await;
        let processes: Vec<_> = answers.iter().map(|a| a.process.as_str()).collect();
        assert_eq!(processes, ["a:1", "b:2"]);
        assert_eq!(answers[1].components, ["gateway"]);

        shutdown.cancel();
        // Once they stop, nobody answers and the asker still returns.
        let silent = testkit::wait_for("the servers to stop answering", Duration::from_secs(5), || async {
            let answers = gather(&client, &names, Duration::from_millis(200)).await;
            answers.is_empty().then_some(())
        });
        silent.await;
    }
}
