//! Telling AI agents from people: a request is an agent's when it comes
//! through the MCP endpoint, or when its `User-Agent` names a known AI agent
//! or crawler (the tokens their operators publish). The agent acts for
//! whoever its credentials name; only the audit log's actor kind changes.

/// `User-Agent` tokens of AI agents and AI crawlers, as their operators
/// document them, matched case-insensitively as whole tokens.
const KNOWN_AGENTS: &[&str] = &[
    // OpenAI
    "GPTBot",
    "ChatGPT-User",
    "OAI-SearchBot",
    // Anthropic
    "ClaudeBot",
    "Claude-User",
    "Claude-SearchBot",
    "anthropic-ai",
    "claude-code",
    // Perplexity
    "PerplexityBot",
    "Perplexity-User",
    // Google, Apple, Amazon, Meta, Microsoft, Mistral, Cohere, others
    "Google-Extended",
    "GoogleAgent-Mariner",
    "Applebot-Extended",
    "Amazonbot",
    "meta-externalagent",
    "meta-externalfetcher",
    "MistralAI-User",
    "cohere-ai",
    "DuckAssistBot",
    "YouBot",
    "CCBot",
    "Bytespider",
    "Diffbot",
];

/// The agent a `User-Agent` names, as spelled in [`KNOWN_AGENTS`].
pub fn from_user_agent(user_agent: &str) -> Option<&'static str> {
    let tokens = user_agent
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ';' | ',' | '/'))
        .filter(|t| !t.is_empty());
    for token in tokens {
        if let Some(agent) = KNOWN_AGENTS.iter().find(|a| a.eq_ignore_ascii_case(token)) {
            return Some(agent);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_agent_tokens_are_recognised_and_browsers_are_not() {
        let cases = [
            (
                "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
                Some("GPTBot"),
            ),
            (
                "Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
                Some("ClaudeBot"),
            ),
            ("perplexity-user/1.0", Some("Perplexity-User")),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
                None,
            ),
            ("curl/8.5.0", None),
            // A token inside another word is not a match.
            ("NotGPTBotReally/1.0", None),
        ];
        for (user_agent, expected) in cases {
            assert_eq!(from_user_agent(user_agent), expected, "{user_agent}");
        }
    }
}
