//! Agent and bot messages towards Zalo: what reaches the customer, and what the agent is told.

use serde_json::json;
use zfsync::tools::sandbox::Env;
use zfsync_freshchat::sim::parts;
use zfsync_freshchat::sim::{AgentMessage, Card, WebhookShape};

use super::conversation_notes;
use crate::helpers::*;

const U1: &str = "5234000000000000901";
/// The Vietnamese hint below numbered options (`options_hint` in the built-in rules).
const HINT: &str = "Bạn có thể trả lời bằng số thứ tự hoặc nội dung lựa chọn.";

/// The texts the OA sent to the user, oldest first, once there are at least `n`.
async fn texts_sent(env: &Env, user: &str, n: usize) -> Vec<String> {
    zalo_sent(env, user, n)
        .await
        .iter()
        .map(|r| zalo_text(r).unwrap_or_else(|| panic!("not a text: {}", r.message)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_private_note_never_reaches_zalo_in_either_payload_shape() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    // The 2022 shape marks a bot note only by `botsPrivateNote: true` (no message_type).
    env.freshchat
        .bot_note(&conv, "Khách hỏi lần 3, chuyển cho người thật")
        .await
        .unwrap();
    env.freshchat
        .bot_sends(&conv, AgentMessage::text("Bot: shop sẽ trả lời ngay"))
        .await
        .unwrap();
    // The 2021 shape says `message_type: "normal"` beside `botsPrivateNote: true`.
    env.freshchat.set_webhook_shape(WebhookShape::V2021);
    env.freshchat
        .bot_note(&conv, "ghi chú nội bộ 2021")
        .await
        .unwrap();
    env.freshchat
        .bot_sends(&conv, AgentMessage::text("Bot: xin chờ một chút"))
        .await
        .unwrap();
    let sent = texts_sent(&env, U1, 2).await;
    settle(&env).await;
    assert_eq!(
        env.zalo
            .sent_to(U1)
            .iter()
            .filter_map(zalo_text)
            .collect::<Vec<_>>(),
        vec!["Bot: shop sẽ trả lời ngay", "Bot: xin chờ một chút"],
        "only the bot's normal messages reach the customer: {sent:?}"
    );
    let ignored = inbox(
        &env,
        InboxQuery::in_state(EventState::Ignored).from(Source::Freshchat),
    )
    .await
    .iter()
    .filter(|r| r.last_error.as_deref() == Some("bot private note"))
    .count();
    assert_eq!(ignored, 2, "both notes were seen and ignored by name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_replies_buttons_and_dropdowns_become_one_readable_text() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    let agent = env.freshchat.default_agent_id();
    // 1. Quick replies in `reply_parts`, after the question in `message_parts`.
    env.freshchat
        .agent_sends_message(
            &conv,
            &agent,
            AgentMessage::text("Anh muốn nhận hàng lúc nào?").with_reply_parts(vec![
                parts::quick_replies(&["Sáng nay", "Chiều nay", "Ngày mai"]),
            ]),
        )
        .await
        .unwrap();
    // 2. Option buttons in `message_parts` itself, one part each, and a link button.
    env.freshchat
        .agent_sends(
            &conv,
            &agent,
            vec![
                parts::text("Anh chọn màu nào?"),
                parts::quick_reply_button("Đỏ"),
                parts::quick_reply_button("Xanh"),
                parts::url_button("https://shop.example/bang-mau", "Xem bảng màu"),
            ],
        )
        .await
        .unwrap();
    // 3. A dropdown in `reply_parts`.
    env.freshchat
        .agent_sends_message(
            &conv,
            &agent,
            AgentMessage::text("Anh mặc size nào?")
                .with_reply_parts(vec![parts::dropdown(&[("Size M", "m"), ("Size L", "l")])]),
        )
        .await
        .unwrap();
    let sent = texts_sent(&env, U1, 3).await;
    assert_eq!(
        sent[0],
        format!("Anh muốn nhận hàng lúc nào?\n1. Sáng nay\n2. Chiều nay\n3. Ngày mai\n{HINT}")
    );
    assert_eq!(
        sent[1],
        format!(
            "Anh chọn màu nào?\n1. Đỏ\n2. Xanh\nXem bảng màu: https://shop.example/bang-mau\n{HINT}"
        ),
        "one question, options numbered on, the link button as its label and URL"
    );
    assert_eq!(
        sent[2],
        format!("Anh mặc size nào?\n1. Size M\n2. Size L\n{HINT}")
    );
    settle(&env).await;
    assert_eq!(env.zalo.sent_to(U1).len(), 3, "one Zalo text per message");
    assert!(
        conversation_notes(&env, &conv).is_empty(),
        "everything was shown, so the agent is told nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_zalo_cannot_show_is_named_to_the_agent() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    let agent = env.freshchat.default_agent_id();
    let cards = [
        Card {
            title: "Áo thun trắng".into(),
            description: "150.000đ".into(),
            image_url: Some("https://cdn.shop.example/ao-trang.jpg".into()),
            select: Some(("Chọn".into(), "ao-trang".into())),
            view: Some(("https://shop.example/ao-trang".into(), "Xem".into())),
        },
        Card {
            title: "Áo thun đen".into(),
            description: "160.000đ".into(),
            image_url: Some("https://cdn.shop.example/ao-den.jpg".into()),
            select: Some(("Chọn".into(), "ao-den".into())),
            view: None,
        },
    ];
    env.freshchat
        .agent_sends_message(
            &conv,
            &agent,
            AgentMessage::new(vec![
                parts::text("Mẫu mới về:"),
                parts::unknown("location_picker", json!({"label": "Gửi vị trí"})),
            ])
            .with_reply_parts(vec![parts::carousel(&cards)]),
        )
        .await
        .unwrap();
    let sent = texts_sent(&env, U1, 1).await;
    let text = &sent[0];
    assert!(
        text.starts_with("Mẫu mới về:\n1. Áo thun trắng\n"),
        "{text}"
    );
    assert!(
        text.contains("150.000đ")
            && text.contains("Xem: https://shop.example/ao-trang")
            && text.contains("2. Áo thun đen"),
        "{text}"
    );
    let note = wait_for_note(&env, &conv, 1).await;
    assert!(note[0].contains("the carousel's pictures"), "{note:?}");
    assert!(note[0].contains("location_picker"), "{note:?}");
    settle(&env).await;
    assert_eq!(env.zalo.sent_to(U1).len(), 1, "the note stays in Freshchat");
    assert_eq!(conversation_notes(&env, &conv).len(), 1, "one note");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_html_keeps_its_links_and_every_entity_is_decoded() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    let agent = env.freshchat.default_agent_id();
    env.freshchat
        .agent_sends(
            &conv,
            &agent,
            vec![parts::text(
                "<p>Dạ, anh xem <a href=\"https://shop.example/chinh-sach\">chính sách đổi trả</a> ạ.</p>\
                 <p>Giá: 150&#8239;000&nbsp;&#x20AB; &amp; tặng quà &#127873; &quot;VIP&quot; &#39;hot&#39;<br/>Shop&#8217;s hotline &lt;1900&gt;</p>",
            )],
        )
        .await
        .unwrap();
    env.freshchat
        .agent_sends_message(
            &conv,
            &agent,
            AgentMessage::text("Anh <b>đồng ý</b> chứ?").with_reply_parts(vec![
                parts::quick_replies(&["Đồng ý &amp; tiếp tục", "Để sau &#128578;"]),
            ]),
        )
        .await
        .unwrap();
    let sent = texts_sent(&env, U1, 2).await;
    assert_eq!(
        sent[0],
        "Dạ, anh xem chính sách đổi trả (https://shop.example/chinh-sach) ạ.\n\
         Giá: 150\u{202F}000 ₫ & tặng quà 🎁 \"VIP\" 'hot'\nShop’s hotline <1900>",
        "the closing paragraph's line break is not sent; &nbsp; reads as a space"
    );
    assert_eq!(
        sent[1],
        format!("Anh đồng ý chứ?\n1. Đồng ý & tiếp tục\n2. Để sau 🙂\n{HINT}")
    );
}

/// Waits for at least `n` private notes in a conversation.
async fn wait_for_note(env: &Env, conv: &str, n: usize) -> Vec<String> {
    zfsync::tools::sandbox::wait_for(WAIT, || async {
        let notes = conversation_notes(env, conv);
        (notes.len() >= n).then_some(notes)
    })
    .await
    .unwrap_or_else(|| panic!("expected {n} notes in {conv}"))
}
