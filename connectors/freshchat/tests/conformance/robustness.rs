//! Nothing panics: every webhook sample, mutated, is parsed or refused by name.

use super::*;

fn webhook_bodies() -> Vec<Vec<u8>> {
    let Some(dir) = corpus_dir() else {
        return Vec::new();
    };
    samples(&dir)
        .into_iter()
        .filter(|s| s.name.starts_with("freshchat-webhook-") || s.name.contains("product-event"))
        .map(|s| s.raw())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Corpus bodies with bytes flipped, cut or inserted: parsing never panics, and what parses
    /// writes back as the same event.
    #[test]
    fn mutated_corpus_bodies_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let bodies = webhook_bodies();
        if bodies.is_empty() {
            return Ok(());
        }
        let mut body = bodies[pick.index(bodies.len())].clone();
        for (at, byte, how) in edits {
            if body.is_empty() { break; }
            let i = at.index(body.len());
            match how {
                0 => body[i] = byte,
                1 => body.insert(i, byte),
                _ => { body.remove(i); }
            }
        }
        if !body.is_empty() && cut.index(4) == 0 {
            body.truncate(cut.index(body.len()));
        }
        if let Ok(e) = parse_event(&body) {
            let _ = (e.action(), e.conversation_id(), e.dedupe_key(), e.time_ms());
            let again = parse_event(&e.to_body());
            prop_assert_eq!(again.as_ref().map(WebhookEvent::dedupe_key), Ok(e.dedupe_key()));
        }
        let _ = serde_json::from_slice::<Message>(&body);
    }
}
