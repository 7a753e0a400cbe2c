//! Hostile policy text rendered into a real page stays inert.

use haven_core::render::markdown_to_safe_html;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

const HOSTILE: &str = r#"# Policy <img src=x onerror="window.__pwned = 'img'">

<script>window.__pwned = 'script'</script>

<div onclick="window.__pwned = 'div'" onmouseover="window.__pwned = 'hover'">hover me</div>

[click](javascript:window.__pwned='link') [data](data:text/html,<script>parent.__pwned='data'</script>)
[spaced](  JaVaScRiPt:window.__pwned='spaced')

<a href="javascript:window.__pwned='raw-a'">raw anchor</a>

Tom &amp; Jerry &lt;b&gt;not bold&lt;/b&gt; &#60;script&#62;

<iframe src="https://example.org"></iframe><style>body{display:none}</style>
"#;

async fn next_tick() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 50)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

#[wasm_bindgen_test]
async fn script_tags_event_handlers_and_javascript_links_in_policy_text_stay_inert() {
    let document = web_sys::window().unwrap().document().unwrap();
    let host = document.create_element("div").unwrap();
    host.set_inner_html(&markdown_to_safe_html(HOSTILE));
    document.body().unwrap().append_child(&host).unwrap();
    next_tick().await;

    // Nothing ran.
    let pwned = js_sys::Reflect::get(&web_sys::window().unwrap(), &"__pwned".into()).unwrap();
    assert!(pwned.is_undefined(), "policy text ran code: {pwned:?}");

    // No active elements, no handler attributes, no dangerous URLs.
    for tag in ["script", "img", "iframe", "style", "div"] {
        let found = host.query_selector_all(tag).unwrap().length();
        assert_eq!(found, 0, "a <{tag}> element was created from policy text");
    }
    let all = host.query_selector_all("*").unwrap();
    for i in 0..all.length() {
        let el: web_sys::Element = all.item(i).unwrap().dyn_into().unwrap();
        let names = el.get_attribute_names();
        for n in 0..names.length() {
            let name = names.get(n).as_string().unwrap();
            assert!(
                !name.starts_with("on"),
                "<{}> has handler {name}",
                el.tag_name()
            );
        }
        if let Some(href) = el.get_attribute("href") {
            let lower = href.to_ascii_lowercase();
            assert!(
                !lower.contains("javascript:") && !lower.starts_with("data:"),
                "href {href}"
            );
        }
    }
    let links = host.query_selector_all("a").unwrap();
    assert_eq!(
        links.length(),
        0,
        "only unsafe links were in the text, so none survive"
    );

    // Raw HTML shows as text, and entities decode to their characters as text.
    let text = host.text_content().unwrap();
    assert!(
        text.contains("<script>window.__pwned = 'script'</script>"),
        "{text}"
    );
    assert!(
        text.contains("Tom & Jerry <b>not bold</b> <script>"),
        "{text}"
    );
    host.remove();
}

#[wasm_bindgen_test]
fn safe_links_open_without_leaking_the_opener_or_referrer() {
    let document = web_sys::window().unwrap().document().unwrap();
    let host = document.create_element("div").unwrap();
    host.set_inner_html(&markdown_to_safe_html(
        "[Childline](https://www.childline.org.uk/)",
    ));
    let a = host
        .query_selector("a")
        .unwrap()
        .expect("a safe link is kept");
    assert_eq!(
        a.get_attribute("href").as_deref(),
        Some("https://www.childline.org.uk/")
    );
    assert_eq!(
        a.get_attribute("rel").as_deref(),
        Some("noopener noreferrer")
    );
}
