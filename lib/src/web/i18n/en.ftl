# The web interface's words in English (the fallback). Every message here is in every other
# catalogue too: `cargo test i18n` checks it.
skip-to-content = Skip to content
signed-in-as = Signed in as { $who }
