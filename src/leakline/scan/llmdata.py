"""Where LLM data lives in an app's source: a small taint analysis over tree-sitter trees.

LLM data is what a model returns (openai `chat.completions.create` / `responses.create` /
`completions.create`, the Vercel AI SDK's `generateText`/`streamText`/`generateObject`/`streamObject`
and the values their callbacks receive, ollama-js `chat`/`generate`, the Anthropic, Google GenAI and Mistral SDKs'
clients (`SDK_CALLS`), `fetch`/axios to LLM URLs),
what is sent to it (identifiers and access paths used inside those calls' arguments, and in those of the
SDKs' model and chat factories, `SDK_FACTORIES`: the prompts),
and everything derived from either through assignment, destructuring, template strings, object
literals, spreads, `JSON.stringify`, string methods, `for await` loops and the returns of project
functions that wrap an LLM call (followed across imports, tsconfig paths included), as well as the
responses of `fetch` calls to the app's own routes that return LLM data.

Derivations that keep no content (`.length`, counts, booleans) and result metadata (`usage`, token
counts, `finishReason`, ids, model names) are not LLM data.

The analysis is flow-insensitive within a function scope (a variable is LLM data if any assignment
to it is) and reaches a fixpoint per file; files are analysed lazily, on first question.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Iterable, Iterator
from enum import Enum
from functools import cached_property
from operator import itemgetter

from tree_sitter import Node

from leakline.scan import parse as ts
from leakline.scan.index import ProjectIndex, SourceFile

# Result fields that describe a completion without carrying its content.
METADATA_PROPS = frozenset(
    {
        "usage",
        "finishReason",
        "finish_reason",
        "id",
        "model",
        "created",
        "system_fingerprint",
        "promptTokens",
        "completionTokens",
        "totalTokens",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "inputTokens",
        "outputTokens",
        # ollama's timings and counts (`generate` / `chat` responses), and when the response was made.
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_count",
        "eval_duration",
        "total_duration",
        "load_duration",
        "created_at",
        # The AI SDK's `response` (`onFinish({ response })`): which model answered and when.
        "modelId",
        "timestamp",
        "done",
        "done_reason",
        "status",
        "ok",
        "headers",
        "warnings",
        "providerMetadata",
        "experimental_providerMetadata",
        "response_id",
        "index",
        "logprobs",
        "role",
        # LangChain messages' token counts, model name and finish reason.
        "usage_metadata",
        "response_metadata",
        # Flags the AI SDK's finish callbacks receive next to the messages (`onFinish({ messages, isAborted })`).
        "isContinuation",
        "isAborted",
        "isAbort",
        "isDisconnect",
        "isError",
        # Anthropic's stop reason and token counts, Gemini's (`usageMetadata`) and which model version answered.
        "stop_reason",
        "stop_sequence",
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "usageMetadata",
        "promptTokenCount",
        "candidatesTokenCount",
        "totalTokenCount",
        "modelVersion",
        "responseId",
        "promptFeedback",
    }
)
NO_CONTENT_PROPS = frozenset({"length", "size", "byteLength"})
# Options of an LLM call that are configuration, not prompt content.
CONFIG_KEYS = frozenset(
    {
        "model",
        "temperature",
        "max_tokens",
        "maxTokens",
        "max_output_tokens",
        "top_p",
        "topP",
        "stream",
        "seed",
        "stop",
        "n",
        "signal",
        "abortSignal",
        "headers",
        "maxRetries",
        "onFinish",
        "onChunk",
        "onStepFinish",
        "onError",
        "response_format",
        "tools",
        "tool_choice",
        "schema",
        "keep_alive",
        "options",
        "format",
        "method",
        # Anthropic's and Mistral's sampling and request options (`metadata: { user_id }` tags the request).
        "stop_sequences",
        "top_k",
        "topK",
        "metadata",
        "randomSeed",
        "safePrompt",
        "responseFormat",
        "toolChoice",
    }
)
AI_SDK_FUNCTIONS = frozenset({"generateText", "streamText", "generateObject", "streamObject"})
AI_SDK_CALLBACKS = frozenset({"onFinish", "onChunk", "onStepFinish"})
# AI SDK v5 UI message streams: their `onFinish` / `onStepFinish` options receive the conversation
# (`messages`, `responseMessage`): the hook apps persist chats from. Methods of a `streamText` result
# (`result.toUIMessageStreamResponse({ onFinish })`, `pipeUIMessageStreamToResponse(res, { onFinish })`) and
# functions of `ai` (`createUIMessageStream({ execute, onFinish })`).
UI_STREAM_FUNCTIONS = frozenset(
    {"toUIMessageStreamResponse", "toUIMessageStream", "createUIMessageStream", "pipeUIMessageStreamToResponse"}
)
REACT_STATE_HOOKS = frozenset({"useState", "React.useState"})
# Wrappers that return a function behaving like their argument (Next's data cache, React's request cache).
MEMOISERS = frozenset({"unstable_cache", "cache", "React.cache", "memoize", "pMemoize"})
# React hooks of the AI SDK (`ai/react`, `@ai-sdk/react`): their state (`messages`, `completion`, `object`,
# `input`) is model output or the prompt being typed, fetched from the app's LLM route.
AI_SDK_HOOKS = frozenset({"useChat", "useCompletion", "useObject", "useAssistant", "experimental_useObject"})
# What those hooks return besides content: flags, errors and control functions.
HOOK_CONTROL_FIELDS = frozenset(
    {
        "isLoading",
        "isPending",
        "error",
        "stop",
        "reload",
        "regenerate",
        "resumeStream",
        "experimental_resume",
        "handleSubmit",
        "handleInputChange",
        "setInput",
        "setMessages",
        "setCompletion",
        "setData",
        "addToolResult",
        "clearError",
    }
)
# Array methods whose callback's first parameter is an element of the array they are called on.
ELEMENT_CALLBACK_METHODS = frozenset(
    {"map", "forEach", "filter", "find", "findLast", "flatMap", "some", "every", "sort", "toSorted"}
)
OPENAI_SUFFIXES = (
    "chat.completions.create",
    "chat.completions.parse",
    "chat.completions.stream",
    "responses.create",
    "responses.stream",
    "completions.create",
)
OLLAMA_METHODS = frozenset({"chat", "generate"})
OLLAMA_CLIENT_CLASS = "\x00ollama-js Ollama"
"""What `FileLlm.class_named` gives for ollama-js's `Ollama` class: not a name a project class can have."""
# Provider SDKs whose client is a class the package exports (default or named), built with `new`: what
# `FileLlm.class_named` gives for it, like `OLLAMA_CLIENT_CLASS`, and for the objects its methods hand out (a
# Gemini model, a chat session). The import decides, not the receiver's name: `x.messages.create(...)` on anything
# else is not an Anthropic call.
ANTHROPIC_CLIENT = "\x00@anthropic-ai/sdk Anthropic"
GENAI_CLIENT = "\x00@google/genai GoogleGenAI"
GENAI_CHAT = "\x00@google/genai Chat"
GEMINI_CLIENT = "\x00@google/generative-ai GoogleGenerativeAI"
GEMINI_MODEL = "\x00@google/generative-ai GenerativeModel"
GEMINI_CHAT = "\x00@google/generative-ai ChatSession"
MISTRAL_CLIENT = "\x00@mistralai/mistralai Mistral"
SDK_CLIENT_CLASSES: dict[str, dict[str, str]] = {
    "@anthropic-ai/sdk": {"default": ANTHROPIC_CLIENT, "Anthropic": ANTHROPIC_CLIENT},
    "@google/genai": {"GoogleGenAI": GENAI_CLIENT},
    "@google/generative-ai": {"GoogleGenerativeAI": GEMINI_CLIENT},
    "@mistralai/mistralai": {"Mistral": MISTRAL_CLIENT},
}
# Methods of an SDK object that return another one: (object, method path) -> what they return. Not LLM calls:
# nothing is sent until the model or chat is asked.
SDK_FACTORIES: dict[tuple[str, str], str] = {
    (GEMINI_CLIENT, "getGenerativeModel"): GEMINI_MODEL,
    (GEMINI_CLIENT, "getGenerativeModelFromCachedContent"): GEMINI_MODEL,
    (GEMINI_MODEL, "startChat"): GEMINI_CHAT,
    (GENAI_CLIENT, "chats.create"): GENAI_CHAT,
}
# The LLM calls of each SDK object: its family (`CLIENT_FAMILIES`) and the method paths, from the object, that send
# a prompt and return (or stream) the model's answer.
SDK_CALLS: dict[str, tuple[str, frozenset[str]]] = {
    ANTHROPIC_CLIENT: (
        "anthropic",
        frozenset({"messages.create", "messages.stream", "beta.messages.create", "beta.messages.stream"}),
    ),
    GENAI_CLIENT: ("google-genai", frozenset({"models.generateContent", "models.generateContentStream"})),
    GENAI_CHAT: ("google-genai", frozenset({"sendMessage", "sendMessageStream"})),
    GEMINI_MODEL: ("google-generative-ai", frozenset({"generateContent", "generateContentStream"})),
    GEMINI_CHAT: ("google-generative-ai", frozenset({"sendMessage", "sendMessageStream"})),
    # Agents answer like chat: the agent's instructions and tools are server-side, the messages are the prompt.
    MISTRAL_CLIENT: (
        "mistral",
        frozenset({"chat.complete", "chat.stream", "fim.complete", "fim.stream", "agents.complete", "agents.stream"}),
    ),
}
_SDK_OBJECTS = frozenset(SDK_CALLS) | frozenset(SDK_FACTORIES.values()) | frozenset(kind for kind, _ in SDK_FACTORIES)
_CLIENT_OBJECTS = _SDK_OBJECTS | {OLLAMA_CLIENT_CLASS}
_SDK_CALL_LAST_NAMES = frozenset(path.rsplit(".", 1)[-1] for _, paths in SDK_CALLS.values() for path in paths)
_SDK_FACTORY_LAST_NAMES = frozenset(path.rsplit(".", 1)[-1] for _, path in SDK_FACTORIES)
_SDK_PATH_DEPTH = max(path.count(".") + 1 for _, paths in SDK_CALLS.values() for path in paths)
# `stream.on(event, callback)` on LLM data (Anthropic's `MessageStream`, openai's `ChatCompletionStream`): the
# callback receives content, except for the events that only say how the stream went.
STREAM_EVENT_METHODS = frozenset({"on", "once"})
NO_CONTENT_EVENTS = frozenset({"error", "end", "abort", "connect", "close"})
# OpenAI's Assistants API: the conversation lives in a thread's messages, and runs produce (or stream) the
# assistant's replies into them. Calls that send or return content; `runs.retrieve` returns a run's status.
ASSISTANTS_SUFFIXES = (
    "beta.threads.create",
    "beta.threads.createAndRun",
    "beta.threads.createAndRunPoll",
    "beta.threads.createAndRunStream",
    "beta.threads.messages.create",
    "beta.threads.messages.list",
    "beta.threads.messages.retrieve",
    "beta.threads.messages.update",
    "beta.threads.runs.create",
    "beta.threads.runs.createAndPoll",
    "beta.threads.runs.createAndStream",
    "beta.threads.runs.stream",
    "beta.threads.runs.submitToolOutputs",
    "beta.threads.runs.submitToolOutputsAndPoll",
    "beta.threads.runs.submitToolOutputsStream",
)
# The openai v3 SDK and openai-edge (`new OpenAIApi(configuration).createChatCompletion({...})`), the 2023
# Next.js AI templates' client. Names no other client uses.
OPENAI_V3_METHODS = frozenset({"createChatCompletion", "createCompletion"})
# LangChain chat models and LLMs (`new ChatOpenAI(...)` from `@langchain/openai`, `langchain/chat_models/...`):
# the Runnable methods that send a prompt and return the model's answer. `invoke` is a common method name, so
# only receivers constructed from a LangChain model class count (see `FileLlm._is_langchain_model`).
LANGCHAIN_METHODS = frozenset({"invoke", "stream", "batch", "call", "predict", "predictMessages", "streamEvents"})
# Model classes that are not named `Chat*` (text-completion LLMs).
LANGCHAIN_LLM_CLASSES = frozenset(
    {"OpenAI", "AzureOpenAI", "Ollama", "Anthropic", "Cohere", "HuggingFaceInference", "Bedrock", "VertexAI"}
    | {"Replicate"}
)
# Methods of a LangChain model that return the same model with options bound (`model.bindTools(tools)`).
LANGCHAIN_MODEL_WRAPPERS = frozenset({"bindTools", "withStructuredOutput", "bind", "withConfig", "withRetry"})
# `ai/rsc` streamable values: `createStreamableValue(initial)`, written through `update` / `append` / `done`, read
# by the client as `readStreamableValue(stream.value)`.
STREAMABLE_FACTORIES = frozenset({"createStreamableValue"})
STREAMABLE_WRITES = frozenset({"update", "append", "done"})
# LangChain's sequences built from a list of runnables (`RunnableSequence.from([prompt, model, parser])`).
LANGCHAIN_SEQUENCES = ("RunnableSequence.from",)
# The LangGraph SDK (`new Client(...)` from `@langchain/langgraph-sdk`): a run's stream or final state carries
# the graph's messages.
LANGGRAPH_SDK = "@langchain/langgraph-sdk"
LANGGRAPH_RUN_SUFFIXES = (".runs.stream", ".runs.wait", ".runs.joinStream")
# AI SDK 2/3 stream helpers (`OpenAIStream(response, { onCompletion })`): their result streams the response they
# wrap, and their callbacks receive the completion text.
LEGACY_STREAM_HELPERS = frozenset(
    {"OpenAIStream", "AnthropicStream", "CohereStream", "HuggingFaceStream", "ReplicateStream", "AWSBedrockStream"}
)
LEGACY_STREAM_CALLBACKS = frozenset({"onStart", "onToken", "onText", "onCompletion", "onFinal"})
LLM_URL_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/responses", "/api/generate", "/api/chat")
# Hugging Face text-generation-inference's native API (`${TGI_ENDPOINT}/generate`): only as the URL's last path
# segment (`/generate-invoice` is not one), see `_ends_in_tgi_path`.
TGI_URL_PATHS = ("/generate", "/generate_stream")
LLM_ENV_MARKERS = (
    "OLLAMA",
    "LLM",
    "MODEL_URL",
    "MODEL_ENDPOINT",
    "OPENAI",
    "INFERENCE",
    "VLLM",
    "LLAMA",
    "AI_BASE",
    "AI_URL",
    "AI_ENDPOINT",
    "TGI",
)
HTTP_CLIENT_CALLEES = frozenset(
    {"fetch", "axios", "axios.post", "axios.get", "axios.request", "ky.post", "ky", "got.post", "ofetch", "$fetch"}
)
# Calls whose result carries their first argument's content.
PASS_THROUGH_FUNCTIONS = frozenset(
    {
        "JSON.stringify",
        "JSON.parse",
        "String",
        "encodeURIComponent",
        "encodeURI",
        "Buffer.from",
        "structuredClone",
        "NextResponse.json",
        "Response.json",
        "Array.from",
        "Object.values",
        "Object.entries",
        "marked",
        "marked.parse",
        "md.render",
        "remark().processSync",
        "btoa",
        "escape",
        "readStreamableValue",
        *LEGACY_STREAM_HELPERS,
    }
)
# The AI SDK's data stream encoders (`formatDataStreamPart("text", delta)`): the result carries the second argument.
STREAM_PART_ENCODERS = frozenset({"formatDataStreamPart", "formatStreamPart"})
HTML_SANITIZERS = frozenset(
    {
        "DOMPurify.sanitize",
        "dompurify.sanitize",
        "purify.sanitize",
        "sanitizeHtml",
        "sanitize",
        "xss",
        "filterXSS",
        "escapeHtml",
        "he.encode",
        "sanitizeHTML",
    }
)
CONTENT_METHODS = frozenset(
    {
        "trim",
        "trimStart",
        "trimEnd",
        "toString",
        "slice",
        "substring",
        "substr",
        "toUpperCase",
        "toLowerCase",
        "replace",
        "replaceAll",
        "split",
        "join",
        "map",
        "filter",
        "flatMap",
        "concat",
        "json",
        "text",
        "toDataStreamResponse",
        "toTextStreamResponse",
        "toUIMessageStreamResponse",
        "toAIStreamResponse",
        "pipeThrough",
        "normalize",
        "at",
        "flat",
        "find",
        "reduce",
        "finalChatCompletion",
        "finalContent",
        # Anthropic's `MessageStream`: the whole message or its text once the stream ends.
        "finalMessage",
        "finalText",
        # An event emitter's `on` returns the emitter: `client.messages.stream({...}).on("text", cb)` is the stream.
        "on",
        "getReader",
        "read",
        "decode",
        "valueOf",
        "then",
        "padEnd",
        "padStart",
        "repeat",
    }
)
FUNCTION_TYPES = frozenset(
    {
        "function_declaration",
        "function_expression",
        "function",
        "arrow_function",
        "method_definition",
        "generator_function_declaration",
        "generator_function",
    }
)
ROUTE_HANDLER_EXPORTS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "default"})
# Pages Router data functions: Next.js renders the page's default export with what they return under `props`.
PAGE_DATA_FUNCTIONS = ("getServerSideProps", "getStaticProps")
PAGE_INITIAL_PROPS = "getInitialProps"
_MAX_OBJECT_DEPTH = 6
"""How many bindings, branches, spreads and project functions deep a props object literal is looked for."""
_MAX_ROUNDS = 6
_POSITION_AND_RANK = itemgetter(0, 1)
# Wrappers `ts.unwrap` looks through, seen from the inside.
_UNWRAPPED_TYPES = frozenset(
    {"parenthesized_expression", "await_expression", "as_expression", "satisfies_expression", "non_null_expression"}
)
_MEMOISER_NAMES = frozenset(name.rsplit(".", 1)[-1] for name in MEMOISERS)
# The clients `FileLlm.direct_call_family` tells apart, and the npm packages whose calls each is recognised as:
# "*" for any recognised LLM call (the AI SDK's helpers wrap other clients' responses), an empty set for clients
# whose calls are not recognised at all. A package listed in package.json and imported by the app while no call of
# its families is recognised anywhere in the app is a blind spot the scan names (`blind_spots`).
CLIENT_FAMILIES = (
    "openai",
    "openai-v3",
    "ai-sdk",
    "ollama",
    "http",
    "langchain",
    "langgraph",
    "anthropic",
    "google-genai",
    "google-generative-ai",
    "mistral",
)
_LANGCHAIN = frozenset({"langchain"})
_UNRECOGNISED: frozenset[str] = frozenset()
LLM_CLIENT_PACKAGES: dict[str, frozenset[str]] = {
    "openai": frozenset({"openai", "openai-v3"}),
    "openai-edge": frozenset({"openai-v3"}),
    "groq-sdk": frozenset({"openai"}),
    "together-ai": frozenset({"openai"}),
    "ai": frozenset({"*"}),
    "ollama": frozenset({"ollama"}),
    "@langchain/openai": _LANGCHAIN,
    "@langchain/anthropic": _LANGCHAIN,
    "@langchain/ollama": _LANGCHAIN,
    "@langchain/google-genai": _LANGCHAIN,
    "@langchain/google-vertexai": _LANGCHAIN,
    "@langchain/mistralai": _LANGCHAIN,
    "@langchain/groq": _LANGCHAIN,
    "@langchain/aws": _LANGCHAIN,
    "@langchain/cohere": _LANGCHAIN,
    LANGGRAPH_SDK: frozenset({"langgraph"}),
    "@anthropic-ai/sdk": frozenset({"anthropic"}),
    "@google/generative-ai": frozenset({"google-generative-ai"}),
    "@google/genai": frozenset({"google-genai"}),
    "@mistralai/mistralai": frozenset({"mistral"}),
    "cohere-ai": _UNRECOGNISED,
    "replicate": _UNRECOGNISED,
    "@huggingface/inference": _UNRECOGNISED,
}
# The rules that follow LLM data: a blind spot is only worth a warning when one of them runs.
LLM_DATA_RULES = frozenset({"LL006", "LL007", "LL008", "LL009", "LL010", "LL011", "LL012", "LL013", "LL014"})
_SDK_CALLBACK_CALLEES = AI_SDK_FUNCTIONS | AI_SDK_HOOKS | UI_STREAM_FUNCTIONS | LEGACY_STREAM_HELPERS
_CALLBACK_SITE_NAMES = _SDK_CALLBACK_CALLEES | ELEMENT_CALLBACK_METHODS | STREAM_EVENT_METHODS | {"then"}
_SDK_CALLBACK_NAMES = AI_SDK_CALLBACKS | LEGACY_STREAM_CALLBACKS
# The last name of every callee `FileLlm._is_direct_llm_call` accepts: other calls are rejected cheaply.
_DIRECT_CALL_LAST_NAMES = frozenset(
    {suffix.rsplit(".", 1)[-1] for suffix in (*OPENAI_SUFFIXES, *ASSISTANTS_SUFFIXES, *LANGGRAPH_RUN_SUFFIXES)}
    | AI_SDK_FUNCTIONS
    | OPENAI_V3_METHODS
    | LANGCHAIN_METHODS
    | OLLAMA_METHODS
    | _SDK_CALL_LAST_NAMES
    | {callee.rsplit(".", 1)[-1] for callee in HTTP_CLIENT_CALLEES}
)
_BINDING_STATEMENTS = frozenset(
    {"variable_declarator", "assignment_expression", "augmented_assignment_expression", "for_in_statement"}
)
# The only node kinds the analysis visits as statements; everything else is reached from them.
INTERESTING_TYPES = (
    *sorted(FUNCTION_TYPES),
    "variable_declarator",
    "assignment_expression",
    "augmented_assignment_expression",
    "for_in_statement",
    "call_expression",
    "export_statement",
    "return_statement",
)


class Mode(Enum):
    """PLAIN: any LLM data. HTML: LLM data that has not passed through an HTML sanitizer."""

    PLAIN = "plain"
    HTML = "html"


class _ModeState:
    # A plain class: a dataclass would generate and compile its methods at import (~1 ms, before a scan's
    # workers can start).
    def __init__(self, tainted: set[tuple[int, str]] | None = None) -> None:
        self.tainted: set[tuple[int, str]] = tainted if tainted is not None else set()
        self.returning: set[int] = set()
        """ids of function nodes whose return value is LLM data."""
        self.memo: dict[int, bool] = {}
        # Per round: what was asked and found clean, and what became tainted. A further round can only change
        # an answer if something asked-and-clean became tainted; otherwise the fixpoint is reached.
        self.asked_clean: set[tuple[int, str]] = set()
        self.asked_clean_functions: set[int] = set()
        self.added: set[tuple[int, str]] = set()
        self.added_functions: set[int] = set()
        # Names (as bytes) an expression must mention to evaluate to LLM data, beyond the file's source calls,
        # and where in the file they occur: the solver skips statements that mention none of them (see
        # `FileLlm._solve`). Occurrences are found once per name, when it is first noted.
        self.names: set[bytes] = set()
        self.pending: list[bytes] = []
        self.mention_starts: list[int] = []
        self.mention_ends: list[int] = []
        self.mentions_added: list[tuple[int, int]] = []
        self.unfiltered = False
        """Set when a function with no name returns LLM data: callers cannot be found by name, so skip nothing."""

    def note_name(self, name: str) -> None:
        self.note_encoded(name.split(".", 1)[0].encode())

    def note_encoded(self, encoded: bytes) -> None:
        if encoded and encoded not in self.names:
            self.names.add(encoded)
            self.pending.append(encoded)

    def locate_pending(self, data: bytes) -> None:
        if not self.pending:
            return
        found: list[tuple[int, int]] = []
        for name in self.pending:
            start = data.find(name)
            while start != -1:
                found.append((start, start + len(name)))
                start = data.find(name, start + 1)
        self.pending.clear()
        self.mentions_added.extend(found)
        merged = sorted([*zip(self.mention_starts, self.mention_ends, strict=True), *found])
        self.mention_starts = [start for start, _ in merged]
        self.mention_ends = [end for _, end in merged]

    def mentions_within(self, lo: int, hi: int) -> bool:
        starts = self.mention_starts
        ends = self.mention_ends
        i = bisect.bisect_left(starts, lo)
        while i < len(starts) and starts[i] < hi:
            if ends[i] <= hi:
                return True
            i += 1
        return False

    def function_returns(self, fn: Node) -> bool:
        if fn.id in self.returning:
            return True
        self.asked_clean_functions.add(fn.id)
        return False


def _any_within(spans: list[tuple[int, int]], ranges: list[tuple[int, int]]) -> bool:
    """Some span (start, end) lies inside some range (lo, hi): lo <= start and end <= hi. Ranges sorted by
    `lo` with the running maximum of `hi`: a bisection per span instead of comparing every pair."""
    if not spans or not ranges:
        return False
    ranges = sorted(ranges)
    los = [lo for lo, _ in ranges]
    reach: list[int] = []
    highest = -1
    for _, hi in ranges:
        highest = max(highest, hi)
        reach.append(highest)
    for start, end in spans:
        i = bisect.bisect_right(los, start)
        if i and reach[i - 1] >= end:
            return True
    return False


# `Node.parent` walks down from the root to find a node's parent: the two scope walks ask it once per ancestor.
def _scope_of(node: Node) -> Node:
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_TYPES:
            return current
        parent = current.parent
        if parent is None:
            return current
        current = parent
    return node


def _scope_chain(node: Node) -> Iterator[Node]:
    current: Node | None = node.parent
    while current is not None:
        parent = current.parent
        if parent is None or current.type in FUNCTION_TYPES:
            yield current
        current = parent


def _function_name(fn: Node) -> str | None:
    name = fn.child_by_field_name("name")
    if name is not None:
        return ts.text(name)
    parent = fn.parent
    if parent is not None and parent.type == "arguments":
        parent = wrapped_declarator(fn)
    if parent is not None and parent.type == "variable_declarator":
        return ts.text(parent.child_by_field_name("name"))
    if parent is not None and parent.type == "pair":
        return ts.text(parent.child_by_field_name("key"))
    return None


def _enclosing_class(node: Node) -> Node | None:
    """The class whose `this` an expression sees: the class of the nearest method or field initialiser, looking
    through arrow functions (they keep the `this` of where they are written)."""
    current = node.parent
    while current is not None:
        kind = current.type
        if kind == "class_body":
            return current.parent
        if kind in FUNCTION_TYPES and kind != "arrow_function":
            parent = current.parent
            # A method of an object literal has that object as `this`, not a class.
            return (
                parent.parent
                if kind == "method_definition" and parent is not None and parent.type == "class_body"
                else None
            )
        current = current.parent
    return None


def _annotated_type(node: Node) -> str | None:
    """The type name of a `: C` annotation on a parameter or field (`C` of `ai: C`), None for other types."""
    annotation = next((child for child in node.named_children if child.type == "type_annotation"), None)
    if annotation is None or not annotation.named_children:
        return None
    named = annotation.named_children[0]
    return ts.text(named) if named.type == "type_identifier" else None


def wrapped_declarator(fn: Node) -> Node | None:
    """The declarator of `const Answer = memo((props) => ...)` (also `forwardRef`, `withFrame(memo(...))`,
    `React.memo`): a function passed first to wrapper calls whose result is bound to a name stands for
    that name, as in `export default withFrame(Answer)`. Method calls (`items.map(...)`) are not wrappers."""
    node = fn
    while (args := node.parent) is not None and args.type == "arguments":
        if not args.named_children or args.named_children[0].id != node.id:
            return None
        call = args.parent
        if call is None or call.type != "call_expression":
            return None
        callee = call.child_by_field_name("function")
        if callee is None or not (
            callee.type == "identifier" or (callee.type == "member_expression" and ts.text(callee).startswith("React."))
        ):
            return None
        node = call
    parent = node.parent
    return parent if node is not fn and parent is not None and parent.type == "variable_declarator" else None


def _pattern_names(pattern: Node, *, skip_metadata: bool) -> Iterator[tuple[Node, str]]:
    """(identifier node, name) for each binding in a destructuring pattern (or a plain identifier)."""
    if pattern.type in ("identifier", "shorthand_property_identifier_pattern"):
        name = ts.text(pattern)
        if not (skip_metadata and (name in METADATA_PROPS or name in HOOK_CONTROL_FIELDS)):
            yield pattern, name
        return
    if pattern.type == "object_pattern":
        for child in pattern.named_children:
            if child.type == "shorthand_property_identifier_pattern":
                yield from _pattern_names(child, skip_metadata=skip_metadata)
            elif child.type == "pair_pattern":
                key = ts.text(child.child_by_field_name("key"))
                value = child.child_by_field_name("value")
                if value is not None and not (skip_metadata and (key in METADATA_PROPS or key in NO_CONTENT_PROPS)):
                    yield from _pattern_names(value, skip_metadata=False)
            elif child.type == "object_assignment_pattern":
                left = child.child_by_field_name("left")
                if left is not None:
                    yield from _pattern_names(left, skip_metadata=skip_metadata)
            elif child.type == "rest_pattern":
                for inner in child.named_children:
                    yield from _pattern_names(inner, skip_metadata=False)
    elif pattern.type == "array_pattern":
        for child in pattern.named_children:
            yield from _pattern_names(child, skip_metadata=skip_metadata)
    elif pattern.type in ("assignment_pattern", "object_assignment_pattern"):
        left = pattern.child_by_field_name("left")
        if left is not None:
            yield from _pattern_names(left, skip_metadata=skip_metadata)
    elif pattern.type == "rest_pattern":
        for inner in pattern.named_children:
            yield from _pattern_names(inner, skip_metadata=False)
    elif pattern.type in ("required_parameter", "optional_parameter"):
        param = pattern.child_by_field_name("pattern")
        if param is not None:
            yield from _pattern_names(param, skip_metadata=skip_metadata)


def _params(fn: Node) -> list[Node]:
    params = fn.child_by_field_name("parameters")
    if params is not None:
        return list(params.named_children)
    single = fn.child_by_field_name("parameter")
    return [single] if single is not None else []


def _props_pattern(fn: Node) -> Node | None:
    """The binding of a component's first parameter (`{ html }`, `props`), without its type or default."""
    params = _params(fn)
    if not params:
        return None
    pattern = params[0]
    if pattern.type in ("required_parameter", "optional_parameter"):
        pattern = pattern.child_by_field_name("pattern") or pattern
    if pattern.type == "assignment_pattern":
        pattern = pattern.child_by_field_name("left") or pattern
    return pattern


def _prop_names(fn: Node, props: frozenset[str]) -> set[str]:
    """The names props `props` of component `fn` are read through: `({ html })`, `({ html: body })`,
    `({ html = "" })`, `({ ...rest })` → `rest.html`, `(props)` → `props.html`."""
    pattern = _props_pattern(fn)
    names: set[str] = set()
    if pattern is None or not props:
        return names
    if pattern.type == "identifier":
        names.update(f"{ts.text(pattern)}.{prop}" for prop in props)
    elif pattern.type == "object_pattern":
        # `({ html, ...rest })`: `rest` holds the props the pattern does not name, never `html`.
        named = {_pattern_key(child) for child in pattern.named_children}
        for child in pattern.named_children:
            if child.type == "shorthand_property_identifier_pattern" and ts.text(child) in props:
                names.add(ts.text(child))
            elif child.type == "object_assignment_pattern":
                left = child.child_by_field_name("left")
                if left is not None and ts.text(left) in props:
                    names.add(ts.text(left))
            elif child.type == "pair_pattern" and ts.text(child.child_by_field_name("key")) in props:
                value = child.child_by_field_name("value")
                if value is not None:
                    names.update(name for _, name in _pattern_names(value, skip_metadata=False))
            elif child.type == "rest_pattern":
                for inner in child.named_children:
                    for _, rest in _pattern_names(inner, skip_metadata=False):
                        names.update(f"{rest}.{prop}" for prop in props if prop not in named)
    return names


def _pattern_key(child: Node) -> str | None:
    """The prop an object pattern's member reads (`html` of `html`, `html: body`, `html = ""`), None for a rest."""
    if child.type == "shorthand_property_identifier_pattern":
        return ts.text(child)
    if child.type == "object_assignment_pattern":
        left = child.child_by_field_name("left")
        return ts.text(left) if left is not None else None
    if child.type == "pair_pattern":
        return ts.text(child.child_by_field_name("key")).strip("\"'")
    return None


def _whole_props_name(fn: Node, name: str) -> bool:
    """`name` holds every prop component `fn` receives that its pattern does not name: its parameter `(props)`, or
    the rest of `({ html, ...rest })`."""
    pattern = _props_pattern(fn)
    if pattern is None:
        return False
    if pattern.type == "identifier":
        return ts.text(pattern) == name
    if pattern.type != "object_pattern":
        return False
    for child in pattern.named_children:
        if child.type == "rest_pattern":
            return any(ts.text(inner) == name for inner in child.named_children if inner.type == "identifier")
    return False


# The names a route handler's request goes by (`POST(req)`, `handler(request, res)`), and the methods reading its body.
_REQUEST_NAMES = frozenset({"req", "request"})
_BODY_READERS = frozenset({"json", "formData"})


def _is_request_body(value: Node) -> bool:
    """`await req.json()`, `await request.formData()` or `req.body`: the body of the request a handler received."""
    node = ts.unwrap(value)
    if node.type == "member_expression":
        obj = node.child_by_field_name("object")
        prop = node.child_by_field_name("property")
        return obj is not None and ts.text(obj) in _REQUEST_NAMES and prop is not None and ts.text(prop) == "body"
    if node.type != "call_expression":
        return False
    fn = node.child_by_field_name("function")
    if fn is None or fn.type != "member_expression":
        return False
    obj = fn.child_by_field_name("object")
    return (
        obj is not None
        and ts.text(obj) in _REQUEST_NAMES
        and ts.text(fn.child_by_field_name("property")) in _BODY_READERS
    )


def _walk_prompt_parts(node: Node) -> Iterator[Node]:
    """Nodes of an LLM call argument that may carry prompt content: not config keys, not callbacks."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type in FUNCTION_TYPES:
            continue
        if current.type == "pair" and ts.text(current.child_by_field_name("key")) in CONFIG_KEYS:
            continue
        if current.type == "pair":
            value = current.child_by_field_name("value")
            if value is not None:
                stack.append(value)
            continue
        yield current
        if current.type == "member_expression":
            continue  # the access path itself is the prompt, not every prefix of it
        stack.extend(reversed(current.named_children))


def parameters(fn: Node) -> list[Node]:
    """The parameter nodes of a function (one for `x => ...`)."""
    return _params(fn)


def pattern_names(pattern: Node) -> list[str]:
    """Every name a binding pattern (identifier, destructuring, rest, defaults) binds."""
    return [name for _, name in _pattern_names(pattern, skip_metadata=False)]


_LITERAL_TYPES = frozenset({"string", "number", "true", "false", "null", "undefined", "regex"})
_COMPARISONS = frozenset({"===", "!==", "==", "!=", "<", ">", "<=", ">=", "instanceof", "in"})


def cannot_carry_llm_data(node: Node) -> bool:
    """Syntactically certain that `node` holds no LLM content (literals, `.length`, metadata, comparisons).

    A cheap pre-check: callers skip the per-file analysis when every argument of a sink passes it."""
    node = ts.unwrap(node)
    kind = node.type
    if kind in _LITERAL_TYPES:
        return True
    if kind == "template_string":
        return not any(child.type == "template_substitution" for child in node.named_children)
    if kind == "member_expression":
        prop = ts.text(node.child_by_field_name("property"))
        return prop in METADATA_PROPS or prop in NO_CONTENT_PROPS
    if kind == "binary_expression":
        operator = node.child_by_field_name("operator")
        if operator is not None and ts.text(operator) in _COMPARISONS:
            return True
        return all(cannot_carry_llm_data(child) for child in node.named_children)
    # `!x`, `typeof x`, `-x`: booleans, type names and numbers.
    return kind == "unary_expression"


def _ends_in_tgi_path(url: str) -> bool:
    """The URL's path ends in one of `TGI_URL_PATHS` (a query or fragment may follow)."""
    path = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return path.endswith(TGI_URL_PATHS)


def is_llm_env_name(name: str) -> bool:
    upper = name.upper()
    return any(marker in upper for marker in LLM_ENV_MARKERS)


class FileLlm:
    """The LLM-data facts of one source file."""

    def __init__(self, analysis: LlmAnalysis, f: SourceFile) -> None:
        self.analysis = analysis
        self.file = f
        self.root = f.root
        # Each node's kind comes with it, read once per file by the index: every `Node.type` builds a new
        # string, and the passes below would otherwise ask it of every node again.
        self._nodes, self._kinds = f.nodes_and_kinds(*INTERESTING_TYPES)
        self._imports = {imp.local: imp for imp in analysis.index.imports_of(f)}
        self._ollama_locals = {imp.local for imp in self._imports.values() if imp.source == "ollama"}
        # Local names of the provider SDKs' client classes (`SDK_CLIENT_CLASSES`), and the names bound to what an
        # SDK object's factory method may return (`const model = genAI.getGenerativeModel(...)`).
        self._sdk_classes = {
            imp.local: SDK_CLIENT_CLASSES[imp.source][imp.imported]
            for imp in self._imports.values()
            if imp.imported in SDK_CLIENT_CLASSES.get(imp.source, ())
        }
        # `import * as sdk from "@anthropic-ai/sdk"` and `const Anthropic = require("@anthropic-ai/sdk")` (the
        # index reads a whole-module require as a namespace): local name -> package.
        self._sdk_namespaces = {
            imp.local: imp.source
            for imp in self._imports.values()
            if imp.imported == "*" and imp.source in SDK_CLIENT_CLASSES
        }
        self._sdk_product_names: set[str] = set()
        # Names bound to what a project function returns (`const ai = getAnthropic()`), and names assigned a `new`
        # expression (`client = new Anthropic()` in a lazy getter): where a client a project function makes is
        # held. Collected only in apps that import a client class (`LlmAnalysis.uses_client_classes`).
        self._factory_bound_names: set[str] = set()
        self._assigned_new: dict[str, list[Node]] = {}
        self._functions: dict[str, list[Node]] = {}
        self._exports: dict[str, str] = {}
        # `export { a as b } from "./x"`: exported name -> (specifier, name exported there); `export * from`.
        self._reexports: dict[str, tuple[str, str]] = {}
        self._star_sources: list[str] = []
        # `const answer = withRetry(rawAnswer)`: answer -> rawAnswer (see `_collect_alias`).
        self._aliases: dict[str, str] = {}
        # Names bound to a `new` expression or another name (`const x = new C()`, `const y = x`): the only
        # declared names a class-based service's instance can be held in (see `_called_methods`).
        self._instance_names: set[str] = set()
        self._collect_functions_and_exports()
        self._prompt_paths: set[tuple[int, str]] = set()
        self._prompt_carriers: set[tuple[int, str]] = set()
        """Request bodies a prompt field is read from (`_mark_request_body`): LLM data as a whole, not per field."""
        self._direct_cache: dict[int, str | None] = {}
        self._wrapper_prompts_marked = False
        self._method_names: set[bytes] = set()
        self._callee_cache: dict[int, str] = {}
        self._method_cache: dict[int, list[tuple[FileLlm, Node]]] = {}
        self._text_cache: dict[int, str] = {}
        self._states: dict[Mode, _ModeState] = {}
        self._param_seeds: dict[Mode, set[tuple[int, str]]] = {}
        self.llm_calls: list[Node] = []
        self._direct_calls: list[Node] = []
        self._find_llm_calls()

    # ---- structure ---------------------------------------------------------------------------

    @cached_property
    def _calls(self) -> tuple[list[Node], list[int]]:
        calls = [n for n, kind in zip(self._nodes, self._kinds, strict=True) if kind == "call_expression"]
        return calls, [n.start_byte for n in calls]

    @property
    def _call_names(self) -> dict[int, str | None]:
        """The last name of each call's callee (`create` of `client.chat.completions.create`), by call id."""
        return self.file.call_last_names

    def _calls_named(self, names: frozenset[str]) -> list[Node]:
        call_names = self._call_names
        return [call for call in self._calls[0] if call_names[call.id] in names]

    def _calls_within(self, node: Node) -> list[Node]:
        """Call expressions inside `node`, from the per-file node list (no second tree traversal)."""
        calls, starts = self._calls
        lo = bisect.bisect_left(starts, node.start_byte)
        hi = bisect.bisect_right(starts, node.end_byte)
        return [c for c in calls[lo:hi] if c.end_byte <= node.end_byte]

    @cached_property
    def _returns(self) -> tuple[list[Node], list[int]]:
        returns = [n for n, kind in zip(self._nodes, self._kinds, strict=True) if kind == "return_statement"]
        return returns, [n.start_byte for n in returns]

    def _returned_values(self, fn: Node) -> list[Node]:
        """What the `return` statements of function `fn` (not those of the functions inside it) return. Found per
        function asked, not for every function of the module: the solver asks only of functions that mention
        LLM data, and finding a statement's function walks up its ancestors."""
        cache: dict[int, list[Node]] = self.__dict__.setdefault("_returned_cache", {})
        found = cache.get(fn.id)
        if found is None:
            returns, starts = self._returns
            start, end = fn.start_byte, fn.end_byte
            found = cache[fn.id] = [
                node.named_children[0]
                for node in returns[bisect.bisect_left(starts, start) : bisect.bisect_right(starts, end)]
                if node.end_byte <= end and node.named_child_count and _scope_of(node).id == fn.id
            ]
        return found

    @cached_property
    def _sdk_sites(self) -> set[int]:
        """Callback sites of AI SDK calls: their callbacks receive model output whatever the taint."""
        out = set()
        for call in self._callback_sites:
            fn = call.child_by_field_name("function")
            if fn is not None and self._callee(fn).rsplit(".", 1)[-1] in _SDK_CALLBACK_CALLEES:
                out.add(call.id)
        return out

    @cached_property
    def _callback_sites(self) -> list[Node]:
        """Calls that may hand LLM data to a callback: AI SDK options, `.then`, React state setters."""
        setters = {name for _, name in self._state_setters}
        out = []
        for call in self._calls[0] if setters else self._calls_named(_CALLBACK_SITE_NAMES):
            fn = call.child_by_field_name("function")
            if fn is None:
                continue
            path = self._callee(fn)
            last = path.rsplit(".", 1)[-1]
            if (
                last in _SDK_CALLBACK_CALLEES
                or last == "then"
                or last in ELEMENT_CALLBACK_METHODS
                or (fn.type == "identifier" and path in setters)
                or last in STREAM_EVENT_METHODS
            ):
                out.append(call)
        return out

    def _text(self, node: Node | None) -> str:
        """Source text of a node, decoded once per analysis (the fixpoint asks for the same names each round)."""
        if node is None:
            return ""
        cached = self._text_cache.get(node.id)
        if cached is None:
            cached = self._text_cache[node.id] = ts.text(node)
        return cached

    def _callee(self, fn: Node) -> str:
        cached = self._callee_cache.get(fn.id)
        if cached is None:
            cached = self._callee_cache[fn.id] = ts.callee_path(fn)
        return cached

    def _collect_functions_and_exports(self) -> None:
        sdk = self.analysis.uses_provider_sdk
        clients = self.analysis.uses_client_classes
        called: list[tuple[str, str]] = []
        for node, kind in zip(self._nodes, self._kinds, strict=True):
            if kind in FUNCTION_TYPES:
                name = _function_name(node)
                if name:
                    self._functions.setdefault(name, []).append(node)
            elif kind == "export_statement":
                self._collect_export(node)
            elif kind == "variable_declarator":
                value = node.child_by_field_name("value")
                value_kind = value.type if value is not None else ""
                if value is not None and value_kind == "call_expression":
                    self._collect_alias(node, value)
                if sdk and value is not None and value_kind in ("call_expression", "await_expression"):
                    call = ts.unwrap(value)
                    callee = call.child_by_field_name("function") if call.type == "call_expression" else None
                    if callee is not None and ts.last_name(callee) in _SDK_FACTORY_LAST_NAMES:
                        self._sdk_product_names.add(ts.text(node.child_by_field_name("name")))
                if clients and value is not None and value_kind in ("call_expression", "await_expression"):
                    call = ts.unwrap(value)
                    callee = call.child_by_field_name("function") if call.type == "call_expression" else None
                    if callee is not None and callee.type in ("identifier", "member_expression"):
                        called.append((ts.text(node.child_by_field_name("name")), ts.text(callee).split(".", 1)[0]))
                elif value_kind in ("new_expression", "identifier", "member_expression"):
                    self._instance_names.add(ts.text(node.child_by_field_name("name")))
            elif kind == "assignment_expression" and self._collect_commonjs_export(node):
                pass
            elif clients and kind in ("assignment_expression", "augmented_assignment_expression"):
                left = node.child_by_field_name("left")
                right = node.child_by_field_name("right")
                if left is not None and right is not None and left.type == "identifier":
                    right = ts.unwrap(right)
                    if right.type == "new_expression":
                        self._assigned_new.setdefault(ts.text(left), []).append(right)
        for alias, inner in self._aliases.items():
            if alias not in self._functions and inner in self._functions:
                self._functions[alias] = list(self._functions[inner])
        for name, head in called:
            # `getAnthropic()` / `clients.anthropic()`: a function of this module, or of a project module imported.
            imp = self._imports.get(head)
            if head in self._functions or (imp is not None and imp.resolved is not None):
                self._factory_bound_names.add(name)

    def _collect_commonjs_export(self, node: Node) -> bool:
        """CommonJS exports, as the export statements they stand for: `module.exports = { ask, b: c, d() {} }`,
        `module.exports.ask = ask`, `exports.ask = async (q) => ...`, `module.exports = ask` (the default). Only
        top-level statements export; True when `node` was one."""
        statement = node.parent
        if statement is None or statement.type != "expression_statement" or statement.parent is None:
            return False
        if statement.parent.type != "program":
            return False
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is None or right is None or left.type != "member_expression":
            return False
        parts = ts.text(left).split(".")
        if parts == ["module", "exports"]:
            name = "default"
        elif (len(parts) == 3 and parts[:2] == ["module", "exports"]) or (len(parts) == 2 and parts[0] == "exports"):
            name = parts[-1]
        else:
            return False
        right = ts.unwrap(right)
        if name == "default" and right.type == "object":
            for item in right.named_children:
                if item.type == "shorthand_property_identifier":
                    self._exports[ts.text(item)] = ts.text(item)
                elif item.type == "pair":
                    key, value = item.child_by_field_name("key"), item.child_by_field_name("value")
                    if key is None or value is None:
                        continue
                    exported = ts.text(key).strip("\"'")
                    value = ts.unwrap(value)
                    # A function written in the object is named by its key (`_function_name`).
                    self._exports[exported] = exported if value.type in FUNCTION_TYPES else ts.text(value)
                elif item.type == "method_definition":
                    method = ts.text(item.child_by_field_name("name"))
                    self._exports[method] = method
            return True
        if right.type == "identifier":
            self._exports[name] = ts.text(right)
        elif right.type in FUNCTION_TYPES:
            own = right.child_by_field_name("name")
            if own is not None:  # `function ask() {}`: registered under its own name when the walk reaches it
                self._exports[name] = ts.text(own)
            else:
                local = "<default>" if name == "default" else name
                self._functions.setdefault(local, []).append(right)
                self._exports[name] = local
        return True

    def _collect_alias(self, declarator: Node, value: Node) -> None:
        """`const answer = withRetry(rawAnswer)` (`memo(Answer)`, `pMemoize(fetchAnswer)`): a wrapper called on a
        function stands for it, as `export default withRetry(rawAnswer)` does. A wrapper given a function
        expression names it already (`wrapped_declarator`). Not awaited calls: their result is a value."""
        name = declarator.child_by_field_name("name")
        if name is None or name.type != "identifier":
            return
        inner = value
        while inner.type == "call_expression":
            fn = inner.child_by_field_name("function")
            args = inner.child_by_field_name("arguments")
            if fn is None or fn.type != "identifier" or args is None or not args.named_children:
                return
            inner = ts.unwrap(args.named_children[0])
        if inner.type == "identifier":
            self._aliases[ts.text(name)] = ts.text(inner)

    def _collect_export(self, node: Node) -> None:
        source = node.child_by_field_name("source")
        if source is not None:
            # A re-export: the names come from another module (`LlmAnalysis.export_definitions` follows them).
            specifier = ts.string_value(source) or ""
            clause = next((c for c in node.named_children if c.type == "export_clause"), None)
            if clause is None:
                if not any(c.type == "namespace_export" for c in node.named_children):
                    self._star_sources.append(specifier)
                return
            for item in clause.named_children:
                name = ts.text(item.child_by_field_name("name"))
                alias = item.child_by_field_name("alias")
                self._reexports[ts.text(alias) if alias is not None else name] = (specifier, name)
            return
        is_default = any(child.type == "default" for child in node.children)
        decl = node.child_by_field_name("declaration")
        value = node.child_by_field_name("value")
        if decl is not None:
            if decl.type in FUNCTION_TYPES or decl.type == "class_declaration":
                name = ts.text(decl.child_by_field_name("name"))
                if is_default:
                    self._exports["default"] = name or "<default>"
                    if not name:
                        self._functions.setdefault("<default>", []).append(decl)
                if name:
                    self._exports[name] = name
            elif decl.type in ("lexical_declaration", "variable_declaration"):
                for declarator in decl.named_children:
                    if declarator.type == "variable_declarator":
                        name = ts.text(declarator.child_by_field_name("name"))
                        self._exports[name] = name
        elif value is not None and is_default:
            value = ts.unwrap(value)
            # `export default withAuth(Answer)` / `memo(Answer)`: a wrapper (higher-order component,
            # handler middleware) around a function of this module stands for that function.
            while value.type == "call_expression":
                args = value.child_by_field_name("arguments")
                inner = args.named_children[0] if args is not None and args.named_children else None
                if inner is None:
                    break
                value = ts.unwrap(inner)
            if value.type == "identifier":
                self._exports["default"] = ts.text(value)
            elif value.type in FUNCTION_TYPES:
                self._functions.setdefault("<default>", []).append(value)
                self._exports["default"] = "<default>"
        for clause in node.named_children:
            if clause.type == "export_clause":
                for spec in clause.named_children:
                    name = ts.text(spec.child_by_field_name("name"))
                    alias = spec.child_by_field_name("alias")
                    self._exports[ts.text(alias) if alias is not None else name] = name

    def project_calls(self) -> list[Node]:
        """Calls that may invoke a function of the project (see `callee_functions`), found by callee name."""
        if any(imp.imported == "*" and imp.resolved for imp in self._imports.values()):
            return self._calls[0]  # `ns.anything(...)`: the name alone cannot tell
        names = set(self._functions) | {local for local, imp in self._imports.items() if imp.resolved}
        call_names = self._call_names
        return [call for call in self._calls[0] if call_names[call.id] in names]

    def callee_functions(self, call: Node) -> list[tuple[SourceFile, Node]]:
        """The project functions a call may invoke: `helper(x)` declared here or imported by name,
        `ns.helper(x)` through a namespace import."""
        fn = call.child_by_field_name("function")
        if fn is None:
            return []
        fn = ts.unwrap(fn)
        local = None
        imported = None
        if fn.type == "identifier":
            local = self._text(fn)
            imp = self._imports.get(local)
            if imp is not None and imp.resolved:
                imported = (imp.resolved, imp.imported)
        elif fn.type == "member_expression":
            obj = fn.child_by_field_name("object")
            imp = self._imports.get(self._text(obj)) if obj is not None and obj.type == "identifier" else None
            if imp is not None and imp.imported == "*" and imp.resolved:
                imported = (imp.resolved, self._text(fn.child_by_field_name("property")))
        if imported is not None:
            return [
                (other.file, node)
                for other, name in self.analysis.export_definitions(*imported)
                for node in other.exported_functions(frozenset({name}))
            ]
        if local is not None:
            return [(self.file, node) for node in self._functions.get(local, [])]
        if fn.type == "member_expression":
            return [(target.file, method) for target, method in self._called_methods(fn)]
        return []

    # ---- class-based services -----------------------------------------------------------------------

    def _called_methods(self, fn: Node) -> list[tuple[FileLlm, Node]]:
        """The methods `receiver.m` calls when the receiver is an instance of a project class: `new C().m()`,
        `x.m()` with `const x = new C()` (here, or exported by the module `x` is imported from), and
        `this.f.m()` with field `f` typed `C` or initialised with `new C()` (also constructor parameter
        properties, `constructor(private f: C)`). Each with the analysis of the module declaring it."""
        # Asked of every method call of the module: most modules reach no class at all, and receivers that
        # cannot be an instance are told from their kind and name before anything else is looked at.
        if not self._may_call_methods:
            return []
        obj = fn.child_by_field_name("object")
        if obj is None:
            return []
        kind = obj.type
        if kind == "identifier":
            name = ts.text(obj)
            imp = self._imports.get(name)
            if (
                name not in self._instance_names
                and name not in self._class_typed_params
                and (imp is None or imp.resolved is None)
            ):
                return []
        elif kind == "member_expression":
            if not self._classes:
                return []  # `this.f.m()` needs a class here, `a.b.m()` is not followed
        elif kind not in _UNWRAPPED_TYPES and kind != "new_expression":
            return []
        cached = self._method_cache.get(fn.id)
        if cached is not None:
            return cached
        self._method_cache[fn.id] = []  # recursion guard
        out: list[tuple[FileLlm, Node]] = []
        if obj is not None:
            found = self._class_of(obj)
            if found is not None:
                target, name = found
                method = self._text(fn.child_by_field_name("property"))
                out = [(target, node) for node in target.class_methods(name, method)]
                if out:
                    # `this.ai.ask(q)` may return LLM data whatever the taint: the solver must not skip it.
                    self._method_names.add(method.encode())
        self._method_cache[fn.id] = out
        return out

    def _class_of(self, node: Node, depth: int = 0) -> tuple[FileLlm, str] | None:
        """The project class `node` evaluates to an instance of: the declaring module's analysis, its name there."""
        node = ts.unwrap(node)
        if depth > 4:
            return None
        kind = node.type
        if kind == "new_expression":
            ctor = node.child_by_field_name("constructor")
            if ctor is not None and ctor.type == "member_expression" and self._sdk_namespaces:
                # `new sdk.Anthropic()`, `new sdk.default()` on a namespace of the package.
                obj = ctor.child_by_field_name("object")
                package = self._sdk_namespaces.get(self._text(obj)) if obj is not None else None
                if package is None:
                    return None
                sdk = SDK_CLIENT_CLASSES[package].get(self._text(ctor.child_by_field_name("property")))
                return (self, sdk) if sdk is not None else None
            return self.class_named(self._text(ctor)) if ctor is not None and ctor.type == "identifier" else None
        if kind == "identifier":
            name = self._text(node)
            # Most receivers (`res`, `console`, `items`) are nothing of the sort: no scope walk for them.
            called = name in self._sdk_product_names or name in self._factory_bound_names
            bound = called or name in self._instance_names
            for value in self._values_bound_to(node, name) if bound else ():
                if value.type in ("new_expression", "identifier", "member_expression") or (
                    called and value.type in ("call_expression", "await_expression")
                ):
                    found = self._class_of(value, depth + 1)
                    if found is not None:
                        return found
            for value in self._assigned_new.get(name, ()):
                # `client = new Anthropic()` in a lazy getter, the variable declared without a value elsewhere.
                found = self._class_of(value, depth + 1)
                if found is not None:
                    return found
            if name in self._class_typed_params:
                annotated = self._parameter_type(node, name)
                if annotated is not None:
                    return self.class_named(annotated)
            imp = self._imports.get(name)
            if imp is not None and imp.resolved is not None and imp.imported != "*":
                return self.analysis.exported_instance_class(imp.resolved, imp.imported)
            return None
        if kind == "call_expression":
            # An SDK object's factory (`genAI.getGenerativeModel({ model })`, `model.startChat()`, `ai.chats.create()`).
            # The receiver is part of the call: no binding is followed, so the depth stays.
            fn = node.child_by_field_name("function")
            found_method = self._sdk_method(fn, depth) if fn is not None else None
            product = SDK_FACTORIES.get(found_method) if found_method is not None else None
            if product is not None:
                return self, product
            return self._client_returned(node, depth) if fn is not None and fn.type == "identifier" else None
        if kind in ("assignment_expression", "augmented_assignment_expression"):
            # `return (client ??= new Anthropic())`: the value assigned.
            right = node.child_by_field_name("right")
            return self._class_of(right, depth + 1) if right is not None else None
        if kind == "binary_expression":
            # `return client ?? (client = new Anthropic())`
            for side in ("left", "right"):
                operand = node.child_by_field_name(side)
                found = self._class_of(operand, depth + 1) if operand is not None else None
                if found is not None:
                    return found
            return None
        if kind == "member_expression" and self._classes:
            obj = node.child_by_field_name("object")
            if obj is not None and obj.type == "this":
                cls = _enclosing_class(node)
                if cls is not None:
                    return self._field_class(cls, self._text(node.child_by_field_name("property")), depth)
        return None

    def _client_returned(self, call: Node, depth: int) -> tuple[FileLlm, str] | None:
        """The LLM client (`_CLIENT_OBJECTS`) a project function returns, for `getAnthropic()`: the function declared
        here or imported from a project module, its results followed in the module declaring it. Only a client:
        a project class's instance handed out this way is not followed (`_called_methods` does not ask)."""
        if not self.analysis.uses_client_classes:
            return None
        for sf, fn in self.callee_functions(call):
            owner = self if sf.rel == self.file.rel else self.analysis.file(sf)
            if owner is None:
                continue
            for value in owner._function_results(fn):
                found = owner._class_of(value, depth + 1)
                if found is not None and found[1] in _CLIENT_OBJECTS:
                    return found
        return None

    def _declared_class(self, declaration: Node, depth: int) -> tuple[FileLlm, str] | None:
        """The class a field or constructor parameter property holds: its initialiser's, else its annotation's."""
        value = declaration.child_by_field_name("value")
        if value is not None and (found := self._class_of(value, depth + 1)) is not None:
            return found
        annotated = _annotated_type(declaration)
        return self.class_named(annotated) if annotated is not None else None

    def _field_class(self, cls: Node, field: str, depth: int) -> tuple[FileLlm, str] | None:
        """The class of field `field` of class `cls`: its type annotation or initialiser, a constructor
        parameter property of that name, or `this.field = value` in the constructor."""
        body = cls.child_by_field_name("body")
        if body is None:
            return None
        for member in body.named_children:
            if member.type == "public_field_definition" and self._text(member.child_by_field_name("name")) == field:
                found = self._declared_class(member, depth)
                if found is not None:
                    return found
            elif member.type == "method_definition" and self._text(member.child_by_field_name("name")) == "constructor":
                for param in _params(member):
                    pattern = param.child_by_field_name("pattern")
                    if pattern is not None and pattern.type == "identifier" and self._text(pattern) == field:
                        found = self._declared_class(param, depth)
                        if found is not None:
                            return found
                ctor_body = member.child_by_field_name("body")
                for statement in ctor_body.named_children if ctor_body is not None else ():
                    assigned = statement.named_children[0] if statement.named_children else None
                    if assigned is None or assigned.type != "assignment_expression":
                        continue
                    left = assigned.child_by_field_name("left")
                    right = assigned.child_by_field_name("right")
                    if (
                        left is not None
                        and right is not None
                        and left.type == "member_expression"
                        and self._text(left) == f"this.{field}"
                        and (found := self._class_of(right, depth + 1)) is not None
                    ):
                        return found
        return None

    @cached_property
    def _class_typed_params(self) -> frozenset[str]:
        """Names of parameters annotated with a type name that may be a class `class_named` finds (`svc:
        AiService`, `svc?: AiService`): declared here, imported from the project, or ollama-js's client. Most typed
        parameters (`req: Request`, `res: NextApiResponse`) are none, and their calls are not looked at further."""
        out: set[str] = set()
        for node, kind in zip(self._nodes, self._kinds, strict=True):
            if kind not in FUNCTION_TYPES:
                continue
            for param in _params(node):
                pattern = param.child_by_field_name("pattern")
                annotated = _annotated_type(param) if pattern is not None and pattern.type == "identifier" else None
                if annotated is None:
                    continue
                imp = self._imports.get(annotated)
                if (
                    annotated in self._classes
                    or annotated in self._ollama_locals
                    or (imp is not None and imp.resolved is not None)
                ):
                    out.add(self._text(pattern))
        return frozenset(out)

    def _parameter_type(self, at: Node, name: str) -> str | None:
        """The type name of the parameter `name` refers to at `at`: the innermost function declaring `name` (as a
        parameter or a variable) decides, so a shadowing `(svc: FaqService) => ...` is its own."""
        for scope in _scope_chain(at):
            if (scope.id, name) not in self._declared_names:
                continue
            for param in _params(scope) if scope.type in FUNCTION_TYPES else ():
                pattern = param.child_by_field_name("pattern")
                if pattern is not None and pattern.type == "identifier" and self._text(pattern) == name:
                    return _annotated_type(param)
            return None
        return None

    @cached_property
    def _may_call_methods(self) -> bool:
        """A class is declared here, or a module imported from may offer one (`LlmAnalysis.offers_classes`)."""
        return bool(self._classes) or any(
            imp.resolved is not None and self.analysis.offers_classes(imp.resolved) for imp in self._imports.values()
        )

    @cached_property
    def offers_classes(self) -> bool:
        """Importers may reach a class through this module: it declares one, exports an instance (or an imported
        name), or re-exports another module's names."""
        return bool(self._classes or self._reexports or self._star_sources) or any(
            local in self._instance_names or local in self._imports for local in self._exports.values()
        )

    @cached_property
    def _classes(self) -> dict[str, Node]:
        """Classes declared in this module that have methods, by name (`class C {}`, `const C = class {}`)."""
        out: dict[str, Node] = {}
        for fns in self._functions.values():
            for fn in fns:
                if fn.type != "method_definition" or (body := fn.parent) is None or (cls := body.parent) is None:
                    continue
                name = cls.child_by_field_name("name")
                if name is None and cls.parent is not None and cls.parent.type == "variable_declarator":
                    name = cls.parent.child_by_field_name("name")
                if name is not None:
                    out.setdefault(ts.text(name), cls)
        return out

    def class_named(self, name: str) -> tuple[FileLlm, str] | None:
        """The class a name of this module refers to: declared here, imported from a project module, or
        ollama-js's client class (`OLLAMA_CLIENT_CLASS`), which has no methods here to follow."""
        if name in self._classes:
            return self, name
        if name in self._ollama_locals:
            return self, OLLAMA_CLIENT_CLASS
        sdk = self._sdk_classes.get(name)
        if sdk is not None:
            return self, sdk
        package = self._sdk_namespaces.get(name)
        if package is not None:
            # `new Anthropic()` with `const Anthropic = require("@anthropic-ai/sdk")`: CommonJS hands out the default
            # export's class itself (Anthropic's); a package with no default client class has none to give.
            sdk = SDK_CLIENT_CLASSES[package].get("default")
            return (self, sdk) if sdk is not None else None
        imp = self._imports.get(name)
        if imp is None or imp.resolved is None or imp.imported == "*":
            return None
        for target, there in self.analysis.export_definitions(imp.resolved, imp.imported):
            local = target._exports.get(there)
            if local is not None and local in target._classes:
                return target, local
        return None

    def _is_ollama_client(self, fn: Node) -> bool:
        """`client.chat()` with `const client = new Ollama({ host })` (here, or an instance a project module
        exports) or `this.client.chat()` with such a field: the receiver is an ollama-js client whatever its name."""
        receiver = fn.child_by_field_name("object") if fn.type == "member_expression" else None
        if receiver is None:
            return False
        found = self._class_of(receiver)
        return found is not None and found[1] == OLLAMA_CLIENT_CLASS

    def _sdk_method(self, fn: Node, depth: int = 0) -> tuple[str, str] | None:
        """For a callee `receiver.a.b` whose receiver is a provider SDK's object (`_SDK_OBJECTS`: a client built with
        `new` from the package's class, here or in the project module it is imported from, a class field, or what
        one of its factories returned), that object and the method path `a.b` called on it."""
        if not self.analysis.uses_provider_sdk:
            return None
        parts: list[str] = []
        node = ts.unwrap(fn)
        while node.type == "member_expression" and len(parts) < _SDK_PATH_DEPTH:
            parts.append(self._text(node.child_by_field_name("property")))
            obj = node.child_by_field_name("object")
            if obj is None:
                return None
            node = ts.unwrap(obj)
            if self._may_be_sdk_object(node):
                found = self._class_of(node, depth)
                if found is not None and found[1] in _SDK_OBJECTS:
                    return found[1], ".".join(reversed(parts))
        return None

    def _may_be_sdk_object(self, node: Node) -> bool:
        """Cheap necessary conditions for `_class_of` to find an SDK object: `prisma.user.create()` with `prisma`
        imported from a module that cannot hold one (the byte prefilter dropped it) parses nothing more."""
        kind = node.type
        if kind in ("new_expression", "call_expression"):
            return True
        if kind == "identifier":
            name = self._text(node)
            imp = self._imports.get(name)
            if imp is not None:
                return imp.resolved is not None and imp.resolved in self.analysis.index.llm_candidates
            return (
                name in self._instance_names
                or name in self._sdk_product_names
                or name in self._factory_bound_names
                or name in self._assigned_new
            )
        if kind == "member_expression":
            obj = node.child_by_field_name("object")
            return obj is not None and obj.type == "this" and bool(self._classes)
        return False

    def class_methods(self, name: str, method: str) -> list[Node]:
        """Methods named `method` of class `name` of this module (`m() {}`, `m = async () => ...`)."""
        cls = self._classes.get(name)
        body = cls.child_by_field_name("body") if cls is not None else None
        out: list[Node] = []
        for member in body.named_children if body is not None else ():
            if member.type == "method_definition" and self._text(member.child_by_field_name("name")) == method:
                out.append(member)
            elif member.type == "public_field_definition" and self._text(member.child_by_field_name("name")) == method:
                value = member.child_by_field_name("value")
                if value is not None and value.type in FUNCTION_TYPES:
                    out.append(value)
        return out

    def instance_class(self, name: str) -> tuple[FileLlm, str] | None:
        """The class of the instance exported as `name` (`export const aiService = new AiService()`)."""
        local = self._exports.get(name)
        if local is None or self.root is None:
            return None
        for value in self._declarators.get((self.root.id, local), []):
            found = self._class_of(value)
            if found is not None:
                return found
        return None

    def export_origins(self, name: str) -> list[tuple[str, str]]:
        """Other project modules export `name` of this one defines in (file, name there): `export { a as b }
        from`, `export * from` (never "default"), and exports of imported names (`import { a } from "./x";
        export { a }`, `export const b = withRetry(a)`)."""
        index = self.analysis.index
        out: list[tuple[str, str]] = []
        again = self._reexports.get(name)
        if again is not None:
            resolved = index.resolve_import(self.file.rel, again[0])
            if resolved is not None:
                out.append((resolved, again[1]))
        local = self._exports.get(name)
        if local is not None and local not in self._functions:
            imp = self._imports.get(self._aliases.get(local, local))
            if imp is not None and imp.resolved is not None and imp.imported != "*":
                out.append((imp.resolved, imp.imported))
        if not out and local is None and name != "default":
            for spec in self._star_sources:
                resolved = index.resolve_import(self.file.rel, spec)
                if resolved is not None:
                    out.append((resolved, name))
        return out

    def exported_functions(self, names: frozenset[str] | None = None) -> list[Node]:
        out = []
        for exported, local in self._exports.items():
            if names is not None and exported not in names:
                continue
            out.extend(self._functions.get(local, []))
        return out

    # ---- sources -----------------------------------------------------------------------------

    def _is_llm_url(self, node: Node | None) -> bool:
        if node is None:
            return False
        node = ts.unwrap(node)
        literal = ts.string_value(node)
        if literal is not None:
            if literal.startswith("/") and not literal.startswith("//"):
                route = self.analysis.index.route_for_url(literal)
                return route is not None and self.analysis.route_returns_llm(route)
            return any(path in literal for path in LLM_URL_PATHS) or _ends_in_tgi_path(literal)
        if node.type == "template_string":
            fragments = "".join(ts.text(c) for c in node.named_children if c.type == "string_fragment")
            subs = [c for c in node.named_children if c.type == "template_substitution"]
            if any(path in fragments for path in LLM_URL_PATHS) or _ends_in_tgi_path(fragments):
                return True
            if any(self._is_llm_url(s.named_children[0]) for s in subs if s.named_children):
                return True
            # `${process.env.NEXT_PUBLIC_APP_URL}/api/assistant`: a base URL, then a path of the app's own.
            parts = node.named_children
            if len(parts) > 1 and parts[0].type == "template_substitution" and parts[1].type == "string_fragment":
                path = ts.text(parts[1])
                if path.startswith("/") and not path.startswith("//"):
                    route = self.analysis.route_at(path)
                    return route is not None and self.analysis.route_returns_llm(route)
            return False
        if node.type == "member_expression":
            path = ts.callee_path(node)
            if path.startswith("process.env."):
                return is_llm_env_name(path.split(".", 2)[2])
        if node.type == "identifier":
            name = ts.text(node)
            if is_llm_env_name(name):
                return True
            for value in self._values_bound_to(node, name):
                if self._is_llm_url(value):
                    return True
        if node.type == "new_expression":
            args = node.child_by_field_name("arguments")
            return bool(args and args.named_children and self._is_llm_url(args.named_children[0]))
        if node.type == "binary_expression":
            return any(self._is_llm_url(c) for c in node.named_children)
        return False

    def bound_value(self, name: Node) -> Node | None:
        """The value the nearest `const`/`let` declaration of identifier `name` binds (the first, if several)."""
        return next(self._values_bound_to(name, self._text(name)), None)

    @property
    def direct_calls(self) -> list[Node]:
        """The module's own LLM calls (not calls of project functions that wrap one)."""
        return self._direct_calls

    def _may_be_bound(self, name: str) -> bool:
        """A `const`/`let`/`var` may declare `name` (`const name =`, `let name: T =`), judged on the bytes:
        most prompt names (`question` of `const { question } = await req.json()`) are bound by no declarator,
        and finding the declarators' scopes (`_declarators`) walks up from each of them."""
        data = self.file.data()
        encoded = name.encode()
        for keyword in (b"const ", b"let ", b"var "):
            needle = keyword + encoded
            at = data.find(needle)
            while at != -1:
                after = data[at + len(needle) : at + len(needle) + 1]
                if not (after.isalnum() or after in (b"_", b"$")):
                    return True
                at = data.find(needle, at + 1)
        return False

    def _values_bound_to(self, at: Node, name: str) -> Iterator[Node]:
        for fn in _scope_chain(at):
            yield from self._declarators.get((fn.id, name), [])

    @property
    def _declarators(self) -> dict[tuple[int, str], list[Node]]:
        cached: dict[tuple[int, str], list[Node]] | None = getattr(self, "_decl_cache", None)
        if cached is None:
            cached = {}
            for node, kind in zip(self._nodes, self._kinds, strict=True):
                if kind == "variable_declarator":
                    name_node = node.child_by_field_name("name")
                    value = node.child_by_field_name("value")
                    if name_node is not None and name_node.type == "identifier" and value is not None:
                        cached.setdefault((_scope_of(node).id, ts.text(name_node)), []).append(value)
            self._decl_cache = cached
        return cached

    def is_direct_llm_call(self, call: Node) -> bool:
        return self.direct_call_family(call) is not None

    def direct_call_family(self, call: Node) -> str | None:
        """Which client a direct LLM call goes through (one of `CLIENT_FAMILIES`), None for other calls."""
        if call.id in self._direct_cache:
            return self._direct_cache[call.id]
        family = self._direct_cache[call.id] = self._direct_family(call)
        return family

    def _direct_family(self, call: Node) -> str | None:
        fn = call.child_by_field_name("function")
        if fn is None:
            return None
        names = self._call_names
        last = names[call.id] if call.id in names else ts.last_name(fn)
        if last not in _DIRECT_CALL_LAST_NAMES:
            return None
        path = self._callee(fn)
        if not path:
            return None
        last = path.rsplit(".", 1)[-1]
        if "." in path and (path.endswith(OPENAI_SUFFIXES) or path.endswith(ASSISTANTS_SUFFIXES)):
            return "openai"
        if last in OPENAI_V3_METHODS and "." in path:
            return "openai-v3"
        if last in AI_SDK_FUNCTIONS and (path == last or path.startswith("ai.")):
            return "ai-sdk"
        if last in OLLAMA_METHODS and "." in path:
            obj = path.rsplit(".", 1)[0]
            if obj in self._ollama_locals or obj.lower().endswith("ollama"):
                return "ollama"
            if self._is_ollama_client(fn):
                return "ollama"
        if last in _SDK_CALL_LAST_NAMES and fn.type == "member_expression":
            found = self._sdk_method(fn)
            calls = SDK_CALLS.get(found[0]) if found is not None else None
            if found is not None and calls is not None and found[1] in calls[1]:
                return calls[0]
        if path in HTTP_CLIENT_CALLEES:
            args = call.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            return "http" if self._is_llm_url(first) else None
        if path.endswith(LANGGRAPH_RUN_SUFFIXES) and self._langgraph_client(path.split(".", 1)[0]):
            return "langgraph"
        if last in LANGCHAIN_METHODS and fn.type == "member_expression":
            receiver = fn.child_by_field_name("object")
            if receiver is not None and self._is_langchain_model(receiver):
                return "langchain"
        return None

    # ---- LangChain and LangGraph receivers -------------------------------------------------------

    def _langchain_class(self, ctor: Node) -> bool:
        """`ctor` names a LangChain model class imported from `@langchain/*` or `langchain/*`."""
        ctor = ts.unwrap(ctor)
        if ctor.type != "identifier":
            return False
        imp = self._imports.get(self._text(ctor))
        if imp is None or not (imp.source.startswith("@langchain/") or imp.source.split("/", 1)[0] == "langchain"):
            return False
        name = imp.imported if imp.imported not in ("default", "*") else imp.local
        return name.startswith("Chat") or name in LANGCHAIN_LLM_CLASSES

    def _is_langchain_model(self, node: Node, depth: int = 0) -> bool:
        """`node` evaluates to a LangChain model: `new ChatOpenAI(...)`, a variable bound to one (here or in the
        project module it is imported from), or such a model with options bound (`model.bindTools(tools)`)."""
        node = ts.unwrap(node)
        if depth > 8:
            return False
        if node.type == "new_expression":
            ctor = node.child_by_field_name("constructor")
            return ctor is not None and self._langchain_class(ctor)
        if node.type == "call_expression":
            fn = node.child_by_field_name("function")
            if fn is None or fn.type != "member_expression":
                return False
            prop = self._text(fn.child_by_field_name("property"))
            obj = fn.child_by_field_name("object")
            args = node.child_by_field_name("arguments")
            if prop == "pipe" or (prop == "from" and self._callee(fn).endswith(LANGCHAIN_SEQUENCES)):
                # LCEL: `prompt.pipe(model).pipe(parser)`, `RunnableSequence.from([prompt, model, parser])`: a
                # chain with a model in it answers as the model does.
                parts = [] if obj is None or prop == "from" else [obj]
                for arg in args.named_children if args is not None else ():
                    arg = ts.unwrap(arg)
                    parts.extend(arg.named_children if arg.type == "array" else [arg])
                return any(self._is_langchain_model(part, depth + 1) for part in parts)
            if prop not in LANGCHAIN_MODEL_WRAPPERS:
                return False
            return obj is not None and self._is_langchain_model(obj, depth + 1)
        if node.type == "identifier":
            name = self._text(node)
            if name in self._langchain_models:
                return True
            imp = self._imports.get(name)
            return (
                imp is not None
                and imp.resolved is not None
                and self.analysis.export_is_langchain_model(imp.resolved, imp.imported)
            )
        return False

    @cached_property
    def _langchain_models(self) -> frozenset[str]:
        """Names bound anywhere in this module to a LangChain model (flow-insensitive, as the taint)."""
        if b"langchain" not in self.file.data() and not any(imp.resolved for imp in self._imports.values()):
            return frozenset()
        self.__dict__["_langchain_models"] = frozenset()  # a binding that refers to itself is not a model
        found: set[str] = set()
        while True:
            added = {
                name
                for (_, name), values in self._declarators.items()
                if name not in found and any(self._is_langchain_model(v) for v in values)
            }
            if not added:
                break
            found |= added
            self.__dict__["_langchain_models"] = frozenset(found)
        return frozenset(found)

    def exports_langchain_model(self, name: str) -> bool:
        local = self._exports.get(name)
        return local is not None and local in self._langchain_models

    def _langgraph_client(self, root: str) -> bool:
        """`root` (of `client.runs.stream`) is a LangGraph SDK client: this module imports the SDK, or `root` is
        imported from a project module that does."""
        if any(imp.source == LANGGRAPH_SDK for imp in self._imports.values()):
            return True
        imp = self._imports.get(root)
        if imp is None or imp.resolved is None:
            return False
        target = self.analysis.index.get(imp.resolved)
        return target is not None and LANGGRAPH_SDK in self.analysis.index.import_specs_of(target)

    @property
    def client_families(self) -> frozenset[str]:
        """The clients (`CLIENT_FAMILIES`) of this module's direct LLM calls, plus "ai-sdk" for AI SDK hooks."""
        families = {self.direct_call_family(call) or "" for call in self._direct_calls}
        if self._calls_named(AI_SDK_HOOKS | UI_STREAM_FUNCTIONS | LEGACY_STREAM_HELPERS):
            families.add("ai-sdk")
        families.discard("")
        return frozenset(families)

    def _find_llm_calls(self) -> None:
        for node in self._calls_named(_DIRECT_CALL_LAST_NAMES):
            if self.is_direct_llm_call(node):
                self._direct_calls.append(node)
        for call in self._direct_calls:
            self._mark_prompts(call)
        for call in self._calls_named(_SDK_FACTORY_LAST_NAMES):
            # A Gemini model's `systemInstruction` and a chat's `history` are sent with each of their calls.
            fn = call.child_by_field_name("function")
            if fn is not None and self._sdk_method(fn) in SDK_FACTORIES:
                self._mark_prompts(call)

    def _mark_wrapper_prompts(self) -> None:
        """Arguments of calls to project functions that call an LLM (`askAssistant(question)`) are prompts too.

        Done once, lazily, before the first fixpoint: it needs the other modules' analyses."""
        if self._wrapper_prompts_marked:
            return
        self._wrapper_prompts_marked = True
        direct = {call.id for call in self._direct_calls}
        for call in self._calls[0]:
            if call.id not in direct and self._callee_calls_llm(call):
                self._mark_prompts(call)

    def _mark_prompts(self, call: Node) -> None:
        """Identifiers and access paths used inside an LLM call's arguments carry prompt data."""
        args = call.child_by_field_name("arguments")
        if args is None:
            return
        fn = call.child_by_field_name("function")
        path = ts.callee_path(fn) if fn is not None else ""
        targets = args.named_children
        if path in HTTP_CLIENT_CALLEES:
            targets = targets[1:]  # the URL
        elif path.endswith(LANGGRAPH_RUN_SUFFIXES) and self.direct_call_family(call) == "langgraph":
            targets = targets[2:]  # `runs.stream(threadId, assistantId, { input })`: ids, then the payload
        followed: set[int] = set()
        for arg in targets:
            for node in _walk_prompt_parts(arg):
                if node.type in ("identifier", "shorthand_property_identifier"):
                    name = ts.text(node)
                    if name in ("undefined", "JSON", "process", "Date", "Math") or name in self._functions:
                        continue
                    self._prompt_paths.add((_scope_of(node).id, name))
                    self._mark_bound_prompt(node, name, followed)
                elif node.type == "member_expression":
                    path = ts.callee_path(node)
                    if path and not path.startswith("process.env"):
                        self._prompt_paths.add((_scope_of(node).id, path))
                        self._mark_request_body(node, path)

    def _mark_request_body(self, at: Node, path: str) -> None:
        """A prompt read from a field of the request body (`body.messages` of `const body = await req.json()`,
        `req.body.question`): the whole body carries it, so logging `body` / `req.body` logs the prompt. Only the
        request's body: a prompt field of another object (`session.user.name`) leaves that object alone."""
        root, _, rest = path.partition(".")
        if not rest:
            return
        if root in _REQUEST_NAMES and rest.startswith("body."):
            self._prompt_carriers.add((_scope_of(at).id, f"{root}.body"))
            return
        if not self._may_be_bound(root):
            return
        for value in self._values_bound_to(at, root):
            if _is_request_body(value):
                self._prompt_carriers.add((_scope_of(value).id, root))
                return

    def _mark_bound_prompt(self, at: Node, name: str, followed: set[int]) -> None:
        """`const prompt = "Question: " + question` (or a template string), `const messages = [...history,
        { content: question }]` sent as `prompt` / `messages`: what the binding was built from is the prompt
        too (`question`, the request field a route logs before it calls the model). Followed through
        bindings, template strings, arrays, objects, spreads, `+`, content methods and pass-through functions;
        not into other calls' arguments, whose result need not carry them (`await loadHistory(userId)`)."""
        if not self._may_be_bound(name):
            return
        for value in self._values_bound_to(at, name):
            if value.id in followed:
                continue
            followed.add(value.id)
            stack = [value]
            while stack:
                current = ts.unwrap(stack.pop())
                kind = current.type
                if kind in ("identifier", "shorthand_property_identifier"):
                    inner = self._text(current)
                    if inner in ("undefined", "JSON", "process", "Date", "Math") or inner in self._functions:
                        continue
                    self._prompt_paths.add((_scope_of(current).id, inner))
                    self._mark_bound_prompt(current, inner, followed)
                elif kind == "member_expression":
                    path = self._callee(current)
                    if path and not path.startswith("process.env"):
                        self._prompt_paths.add((_scope_of(current).id, path))
                        self._mark_request_body(current, path)
                elif kind == "pair":
                    if self._text(current.child_by_field_name("key")) not in CONFIG_KEYS:
                        stack.extend(current.named_children[1:])
                elif kind in ("template_string", "template_substitution", "array", "object", "spread_element"):
                    stack.extend(current.named_children)
                elif kind == "binary_expression":
                    stack.extend(
                        c for c in (current.child_by_field_name("left"), current.child_by_field_name("right")) if c
                    )
                elif kind == "ternary_expression":
                    stack.extend(
                        c
                        for c in (
                            current.child_by_field_name("consequence"),
                            current.child_by_field_name("alternative"),
                        )
                        if c
                    )
                elif kind == "call_expression":
                    fn = current.child_by_field_name("function")
                    args = current.child_by_field_name("arguments")
                    callee = self._callee(fn) if fn is not None else ""
                    if callee in PASS_THROUGH_FUNCTIONS and args is not None and args.named_children:
                        stack.append(args.named_children[0])
                    elif fn is not None and fn.type == "member_expression":
                        method = self._text(fn.child_by_field_name("property"))
                        obj = fn.child_by_field_name("object")
                        if method in CONTENT_METHODS and obj is not None:
                            stack.append(obj)
                            if method in ("concat", "join", "replace", "replaceAll") and args is not None:
                                stack.extend(args.named_children)

    # ---- wrappers ------------------------------------------------------------------------------

    def _callee_returns_llm(self, call: Node, state: _ModeState, mode: Mode) -> bool:
        fn = call.child_by_field_name("function")
        if fn is None:
            return False
        fn = ts.unwrap(fn)
        if fn.type == "identifier":
            name = ts.text(fn)
            if any(state.function_returns(f) for f in self._functions.get(name, [])):
                return True
            imp = self._imports.get(name)
            if imp is not None and imp.resolved:
                return self.analysis.export_returns_llm(imp.resolved, imp.imported, mode)
            return any(self._memoised_returns_llm(value, state, mode) for value in self._values_bound_to(fn, name))
        elif fn.type == "member_expression":
            obj = fn.child_by_field_name("object")
            prop = ts.text(fn.child_by_field_name("property"))
            if obj is not None and obj.type == "identifier":
                imp = self._imports.get(ts.text(obj))
                if imp is not None and imp.imported == "*" and imp.resolved:
                    return self.analysis.export_returns_llm(imp.resolved, prop, mode)
            for target, method in self._called_methods(fn):
                if state.function_returns(method) if target is self else target.function_returns_llm(method, mode):
                    return True
        return False

    def _returns_what_it_is_given(self, call: Node, args: Node, state: _ModeState, mode: Mode) -> bool:
        """`concatenateMessages(list.data)`: LLM data passed to a project function (declared here, imported by name
        or through a namespace) whose return value carries that parameter."""
        values = [a for a in args.named_children if a.type != "comment"]
        if not values:
            return False
        targets = self.callee_functions(call)
        if not targets:
            return False
        for i, value in enumerate(values):
            if not self._eval(value, state, mode):
                continue
            for target_file, fn in targets:
                params = _params(fn)
                slot = i
                if params:
                    last = params[-1]
                    pattern = last.child_by_field_name("pattern") if last.type.endswith("_parameter") else last
                    if pattern is not None and pattern.type == "rest_pattern":
                        slot = min(i, len(params) - 1)
                if slot < len(params) and self.analysis.returns_parameter(target_file, fn, slot, mode):
                    return True
        return False

    def _memoised_returns_llm(self, value: Node, state: _ModeState, mode: Mode) -> bool:
        """`const f = unstable_cache(async (x) => ask(x), keys)`: f returns what the wrapped function returns. So
        does any wrapper called by name on a function (`const safeAsk = withRetry(rawAnswer)`)."""
        value = ts.unwrap(value)
        if value.type != "call_expression":
            return False
        wrapper = value.child_by_field_name("function")
        if wrapper is None or (wrapper.type != "identifier" and self._callee(wrapper) not in MEMOISERS):
            return False
        args = value.child_by_field_name("arguments")
        if args is None or not args.named_children:
            return False
        wrapped = ts.unwrap(args.named_children[0])
        if wrapped.type in FUNCTION_TYPES:
            return self._returns_llm(wrapped, state, mode)
        if wrapped.type == "identifier":
            name = ts.text(wrapped)
            if any(state.function_returns(f) for f in self._functions.get(name, [])):
                return True
            imp = self._imports.get(name)
            return (
                imp is not None
                and imp.resolved is not None
                and self.analysis.export_returns_llm(imp.resolved, imp.imported, mode)
            )
        return False

    @cached_property
    def _wrapper_names(self) -> frozenset[str]:
        """Names a call must have for `name_calls_llm` to hold: this module's functions and its project imports."""
        return frozenset(self._functions).union(local for local, imp in self._imports.items() if imp.resolved)

    def _callee_calls_llm(self, call: Node) -> bool:
        # The callee's last name, read once per file by the index, is its name when it is a plain identifier: a
        # name no function here or import from the project has decides most calls without reading the tree.
        # A method call (`this.ai.ask()`) is named by its method: that shortcut holds only where no class-based
        # service can be reached.
        names = self._call_names
        if call.id in names and names[call.id] not in self._wrapper_names and not self._may_call_methods:
            return False
        fn = call.child_by_field_name("function")
        if fn is None:
            return False
        fn = ts.unwrap(fn)
        if fn.type == "member_expression":
            return self._may_call_methods and any(
                target.function_calls_llm(method) for target, method in self._called_methods(fn)
            )
        return fn.type == "identifier" and self.name_calls_llm(ts.text(fn))

    def name_calls_llm(self, name: str) -> bool:
        """A function of this name, declared here or imported from the project, calls an LLM."""
        if any(self._function_calls_llm(f) for f in self._functions.get(name, [])):
            return True
        imp = self._imports.get(name)
        if imp is None or imp.resolved is None:
            return False
        return self.analysis.export_calls_llm(imp.resolved, imp.imported)

    def _function_calls_llm(self, fn: Node) -> bool:
        cache: dict[int, bool] = self.__dict__.setdefault("_calls_cache", {})
        if fn.id in cache:
            return cache[fn.id]
        cache[fn.id] = False  # recursion guard
        result = any(
            call.start_byte >= fn.start_byte and call.end_byte <= fn.end_byte for call in self._direct_calls
        ) or any(self._callee_calls_llm(node) for node in self._calls_within(fn) if node.id != fn.id)
        cache[fn.id] = result
        return result

    @property
    def calls_llm(self) -> bool:
        """The module calls an LLM directly or through a project function."""
        return bool(self._direct_calls) or any(self._callee_calls_llm(node) for node in self._calls[0])

    def function_calls_llm(self, fn: Node) -> bool:
        return self._function_calls_llm(fn)

    def export_calls_llm(self, name: str) -> bool:
        return any(self._function_calls_llm(f) for f in self.exported_functions(frozenset({name})))

    # ---- propagation ---------------------------------------------------------------------------

    def _state(self, mode: Mode) -> _ModeState:
        state = self._states.get(mode)
        if state is None:
            state = self._states[mode] = _ModeState(tainted=set(self._param_seeds.get(mode, ())))
            if self._has_sources or state.tainted:
                self._mark_wrapper_prompts()
                for encoded in (*self._static_names, *self._method_names):
                    state.note_encoded(encoded)
                for _, name in (*state.tainted, *self._prompt_paths, *self._prompt_carriers):
                    state.note_name(name)
                self._solve(state, mode)
                self._solve_page_props(state, mode)
        return state

    @cached_property
    def _has_sources(self) -> bool:
        """Whether anything here can be LLM data at all; most modules of a shop have no source and skip solving."""
        if self._direct_calls or any(imp.resolved for imp in self._imports.values()):
            return True
        # A UI message stream's finish callback receives the conversation even with no model call in sight.
        return bool(self._calls_named(AI_SDK_HOOKS | UI_STREAM_FUNCTIONS))

    def _bind(self, state: _ModeState, pattern: Node, *, skip_metadata: bool) -> bool:
        changed = False
        scope = _scope_of(pattern)
        for _, name in _pattern_names(pattern, skip_metadata=skip_metadata):
            key = (scope.id, name)
            if key not in state.tainted:
                state.tainted.add(key)
                state.added.add(key)
                state.note_name(name)
                changed = True
        return changed

    def _bind_keys(self, state: _ModeState, pattern: Node, value: Node) -> bool:
        """`const { summary } = this.props` (or `= props`) when only some keys of the object are LLM data, as the
        props a caller or a page's data functions seed (`this.props.summary`): the members read from those keys."""
        value = ts.unwrap(value)
        if value.type not in ("identifier", "member_expression"):
            return False
        path = self._callee(value)
        if not path:
            return False
        changed = False
        for child in pattern.named_children:
            key = _pattern_key(child)
            if key is None or key in METADATA_PROPS or not self._lookup(value, f"{path}.{key}", state):
                continue
            target = child.child_by_field_name("value") if child.type == "pair_pattern" else child
            if target is not None:
                changed |= self._bind(state, target, skip_metadata=False)
        return changed

    def _bind_assigned(self, state: _ModeState, target: Node) -> bool:
        """`acc += chunk` inside a callback assigns the variable where it is declared (`let acc = ""` in the
        enclosing function): the taint goes to that scope, so that reads there (`return acc`) see it."""
        name = self._text(target)
        scope = next((s for s in _scope_chain(target) if (s.id, name) in self._declared_names), _scope_of(target))
        key = (scope.id, name)
        if key in state.tainted:
            return False
        state.tainted.add(key)
        state.added.add(key)
        state.note_name(name)
        return True

    @cached_property
    def _declared_names(self) -> set[tuple[int, str]]:
        """(scope id, name) of every `const`/`let`/`var` binding of a plain name, with or without a value, and of
        every parameter (a parameter shadows the outer variable of its name)."""
        out: set[tuple[int, str]] = set()
        for node, kind in zip(self._nodes, self._kinds, strict=True):
            if kind == "variable_declarator":
                name = node.child_by_field_name("name")
                if name is not None and name.type == "identifier":
                    out.add((_scope_of(node).id, self._text(name)))
            elif kind in FUNCTION_TYPES:
                for param in _params(node):
                    out.update((node.id, name) for _, name in _pattern_names(param, skip_metadata=False))
        return out

    @cached_property
    def _static_names(self) -> set[bytes]:
        """Names whose calls may return LLM data whatever the taint: project imports and memoised functions."""
        names = {imp.local.encode() for imp in self._imports.values() if imp.resolved}
        names.update(alias.encode() for alias in self._aliases)  # `safeAsk(q)` returns what `rawAnswer` returns
        for call in self._calls_named(_MEMOISER_NAMES):
            fn = call.child_by_field_name("function")
            if fn is None or self._callee(fn) not in MEMOISERS:
                continue
            declarator = call.parent
            while declarator is not None and declarator.type in _UNWRAPPED_TYPES:
                declarator = declarator.parent
            if declarator is not None and declarator.type == "variable_declarator":
                names.add(self._text(declarator.child_by_field_name("name")).encode())
        return names

    @cached_property
    def _source_starts(self) -> list[int]:
        """Start bytes of calls that are LLM data by themselves (model calls, AI SDK hooks), sorted."""
        starts = [call.start_byte for call in self._direct_calls]
        starts.extend(call.start_byte for call in self._calls_named(AI_SDK_HOOKS))
        starts.sort()
        return starts

    @cached_property
    def _solve_order(self) -> list[tuple[bool, Node, int, int]]:
        """Statements in the order that lets most files settle in one round: declarations in document
        order, each function's returns right after its body (so callers below see it), each callback site
        before the callback's body. `True` marks a callback site; each statement comes with its byte range
        (read once here: the solver's filter asks for it every round)."""
        order: list[tuple[int, int, bool, Node, int, int]] = []
        for node, kind in zip(self._nodes, self._kinds, strict=True):
            if kind in FUNCTION_TYPES:
                start, end = node.start_byte, node.end_byte
                order.append((end, 1, False, node, start, end))
            elif kind in _BINDING_STATEMENTS:
                start, end = node.start_byte, node.end_byte
                order.append((start, 0, False, node, start, end))
        sites = {call.id for call in self._callback_sites}
        for call in self._calls[0]:
            if call.id in sites:
                start, end = call.start_byte, call.end_byte
                order.append((start, 0, True, call, start, end))
        order.sort(key=_POSITION_AND_RANK)  # stable: ties keep the order above
        return [(is_site, node, start, end) for _, _, is_site, node, start, end in order]

    def _solve(self, state: _ModeState, mode: Mode) -> None:
        data = self.file.data()
        sdk_sites = self._sdk_sites
        source_starts = self._source_starts
        sources = len(source_starts)
        for _ in range(_MAX_ROUNDS):
            # Taint only grows, so a True result stays True; only negative answers are re-asked.
            state.memo = {key: value for key, value in state.memo.items() if value}
            changed = False
            skipped: list[tuple[int, int]] = []
            state.locate_pending(data)
            state.mentions_added.clear()
            for is_site, node, lo, hi in self._solve_order:
                # A cheap necessary condition for the statement spanning bytes [lo, hi) to change the taint:
                # it contains a source call or mentions a name that is (or whose call may return) LLM data.
                # Written out here, not a method: it is asked of every statement, every round.
                if not state.unfiltered:
                    i = bisect.bisect_left(source_starts, lo)
                    if not (i < sources and source_starts[i] < hi):
                        if state.pending:
                            state.locate_pending(data)
                        if not state.mentions_within(lo, hi) and not (is_site and node.id in sdk_sites):
                            skipped.append((lo, hi))
                            continue
                if is_site:
                    changed |= self._bind_callbacks(node, state, mode)
                    continue
                kind = node.type
                if kind == "variable_declarator":
                    name = node.child_by_field_name("name")
                    value = node.child_by_field_name("value")
                    if name is not None and value is not None:
                        if self._eval(value, state, mode):
                            changed |= self._bind(state, name, skip_metadata=True)
                        elif name.type == "object_pattern":
                            changed |= self._bind_keys(state, name, value)
                elif kind in ("assignment_expression", "augmented_assignment_expression"):
                    left = node.child_by_field_name("left")
                    right = node.child_by_field_name("right")
                    if left is not None and right is not None and self._eval(right, state, mode):
                        if left.type == "identifier":
                            changed |= self._bind_assigned(state, left)
                        elif left.type == "member_expression":
                            path = ts.callee_path(left)
                            key = (_scope_of(left).id, path)
                            if path and key not in state.tainted:
                                state.tainted.add(key)
                                state.added.add(key)
                                state.note_name(path)
                                changed = True
                elif kind == "for_in_statement":
                    left = node.child_by_field_name("left")
                    right = node.child_by_field_name("right")
                    if left is not None and right is not None and self._eval(right, state, mode):
                        changed |= self._bind(state, left, skip_metadata=True)
                elif kind in FUNCTION_TYPES and node.id not in state.returning and self._returns_llm(node, state, mode):
                    state.returning.add(node.id)
                    state.added_functions.add(node.id)
                    fn_name = _function_name(node)
                    if fn_name:
                        state.note_name(fn_name)
                    else:
                        state.unfiltered = True
                    changed = True
            if not changed:
                return
            state.locate_pending(data)
            # A statement skipped before a name it mentions became LLM data has not been judged yet.
            unjudged = _any_within(state.mentions_added, skipped)
            if (
                not unjudged
                and not (state.added & state.asked_clean)
                and not (state.added_functions & state.asked_clean_functions)
            ):
                return  # nothing found clean this round has changed since: another round would agree
            state.asked_clean.clear()
            state.asked_clean_functions.clear()
            state.added.clear()
            state.added_functions.clear()

    @property
    def _state_setters(self) -> dict[tuple[int, str], Node]:
        """`const [value, setValue] = useState(...)`: calling `setValue(x)` stores x in `value`."""
        cached: dict[tuple[int, str], Node] | None = getattr(self, "_setter_cache", None)
        if cached is None:
            cached = {}
            # Every state hook's callee (`REACT_STATE_HOOKS`) ends in these bytes: most modules have none.
            pairs = zip(self._nodes, self._kinds, strict=True) if b"useState" in self.file.data() else ()
            for node, kind in pairs:
                if kind != "variable_declarator":
                    continue
                pattern = node.child_by_field_name("name")
                value = node.child_by_field_name("value")
                if pattern is None or value is None or pattern.type != "array_pattern":
                    continue
                value = ts.unwrap(value)
                callee = ts.callee_path(value.child_by_field_name("function") or value)
                if value.type == "call_expression" and callee in REACT_STATE_HOOKS:
                    elements = pattern.named_children
                    if len(elements) >= 2 and elements[1].type == "identifier":
                        cached[(_scope_of(node).id, ts.text(elements[1]))] = elements[0]
            self._setter_cache = cached
        return cached

    def _bind_state_setter(self, call: Node, fn: Node, args: Node, state: _ModeState, mode: Mode) -> bool:
        if fn.type != "identifier" or not args.named_children:
            return False
        setters = self._state_setters
        if not setters:
            return False
        name = ts.text(fn)
        for scope in _scope_chain(call):
            target = setters.get((scope.id, name))
            if target is None:
                continue
            value = args.named_children[0]
            # setAnswer((prev) => prev + chunk) stores what the updater returns.
            tainted = (
                self._returns_llm(value, state, mode)
                if value.type in FUNCTION_TYPES
                else self._eval(value, state, mode)
            )
            return tainted and self._bind(state, target, skip_metadata=False)
        return False

    def _bind_callbacks(self, call: Node, state: _ModeState, mode: Mode) -> bool:
        """AI SDK callbacks (`onFinish({ text })`), `.then(result => ...)` and React state setters."""
        changed = False
        fn = call.child_by_field_name("function")
        args = call.child_by_field_name("arguments")
        if fn is None or args is None:
            return False
        changed |= self._bind_state_setter(call, fn, args, state, mode)
        path = ts.callee_path(fn)
        last = path.rsplit(".", 1)[-1]
        if last in _SDK_CALLBACK_CALLEES and args.named_children:
            # The options object comes first, but second in `result.pipeUIMessageStreamToResponse(res, options)`.
            # and `OpenAIStream(response, { onCompletion })` takes them second as well.
            wide = last in UI_STREAM_FUNCTIONS or last in LEGACY_STREAM_HELPERS
            candidates = args.named_children if wide else args.named_children[:1]
            for options in map(ts.unwrap, candidates):
                if options.type != "object":
                    continue
                for member in options.named_children:
                    callback: Node | None = None
                    if member.type == "pair" and ts.text(member.child_by_field_name("key")) in _SDK_CALLBACK_NAMES:
                        callback = member.child_by_field_name("value")
                    elif (
                        member.type == "method_definition"
                        and ts.text(member.child_by_field_name("name")) in _SDK_CALLBACK_NAMES
                    ):
                        callback = member
                    if callback is not None and callback.type in FUNCTION_TYPES:
                        for param in _params(callback)[:1]:
                            changed |= self._bind(state, param, skip_metadata=True)
        if fn.type == "member_expression" and ts.text(fn.child_by_field_name("property")) in ELEMENT_CALLBACK_METHODS:
            # `messages.map((m) => m.content)`: the element of an LLM-data array is LLM data.
            obj = fn.child_by_field_name("object")
            if obj is not None and args.named_children and self._eval(obj, state, mode):
                callback = args.named_children[0]
                if callback.type in FUNCTION_TYPES:
                    for param in _params(callback)[:1]:
                        changed |= self._bind(state, param, skip_metadata=True)
        if (
            fn.type == "member_expression"
            and len(args.named_children) > 1
            and ts.text(fn.child_by_field_name("property")) in STREAM_EVENT_METHODS
            and ts.string_value(args.named_children[0]) not in NO_CONTENT_EVENTS
        ):
            # `stream.on("text", (delta, snapshot) => ...)`: every parameter of a content event's listener is content.
            obj = fn.child_by_field_name("object")
            listener = args.named_children[1]
            if obj is not None and listener.type in FUNCTION_TYPES and self._eval(obj, state, mode):
                for param in _params(listener):
                    changed |= self._bind(state, param, skip_metadata=True)
        if fn.type == "member_expression" and ts.text(fn.child_by_field_name("property")) == "then":
            obj = fn.child_by_field_name("object")
            if obj is not None and self._eval(obj, state, mode) and args.named_children:
                callback = args.named_children[0]
                if callback.type in FUNCTION_TYPES:
                    for param in _params(callback)[:1]:
                        changed |= self._bind(state, param, skip_metadata=True)
        return changed

    def _returns_llm(self, fn: Node, state: _ModeState, mode: Mode) -> bool:
        body = fn.child_by_field_name("body")
        if body is None:
            return False
        if body.type != "statement_block":
            return self._eval(body, state, mode)
        return any(self._eval(value, state, mode) for value in self._returned_values(fn))

    def _lookup(self, node: Node, name: str, state: _ModeState) -> bool:
        keys = [(scope.id, name) for scope in _scope_chain(node)]
        if any(key in state.tainted or key in self._prompt_paths for key in keys):
            return True
        state.asked_clean.update(keys)
        return False

    def _carries_prompt(self, node: Node, name: str) -> bool:
        """`name` is a request body a prompt field is read from, used whole here: not as the object of a member
        access (`body.locale` is another field, judged on its own)."""
        parent = node.parent
        if parent is not None and parent.type == "member_expression" and parent.child_by_field_name("object") == node:
            return False
        return any((scope.id, name) in self._prompt_carriers for scope in _scope_chain(node))

    def _eval(self, node: Node, state: _ModeState, mode: Mode) -> bool:
        cached = state.memo.get(node.id)
        if cached is not None:
            return cached
        state.memo[node.id] = False  # cycles (a = a + x) resolve through the fixpoint, not recursion
        result = self._eval_uncached(node, state, mode)
        state.memo[node.id] = result
        return result

    def _eval_uncached(self, node: Node, state: _ModeState, mode: Mode) -> bool:
        node = ts.unwrap(node)
        kind = node.type
        if kind in ("identifier", "shorthand_property_identifier"):
            name = self._text(node)
            return self._lookup(node, name, state) or (bool(self._prompt_carriers) and self._carries_prompt(node, name))
        if kind == "member_expression":
            prop = self._text(node.child_by_field_name("property"))
            if prop in METADATA_PROPS or prop in NO_CONTENT_PROPS:
                return False
            path = self._callee(node)
            if path and self._lookup(node, path, state):
                return True
            if self._prompt_carriers and path and self._carries_prompt(node, path):
                return True
            obj = node.child_by_field_name("object")
            if (
                prop == "value"
                and obj is not None
                and obj.type == "identifier"
                and self._streamable_carries_llm(obj, state, mode)
            ):
                return True
            return obj is not None and self._eval(obj, state, mode)
        if kind == "subscript_expression":
            obj = node.child_by_field_name("object")
            return obj is not None and self._eval(obj, state, mode)
        if kind == "call_expression":
            return self._eval_call(node, state, mode)
        if kind == "new_expression":
            ctor = ts.callee_path(node.child_by_field_name("constructor") or node)
            args = node.child_by_field_name("arguments")
            if (
                ctor in ("Response", "NextResponse", "StreamingTextResponse", "Blob", "TextEncoder")
                and args is not None
            ):
                return any(self._eval(a, state, mode) for a in args.named_children[:1])
            if ctor == "ReadableStream" and args is not None and args.named_children:
                return self._stream_enqueues_llm(args.named_children[0], state, mode)
            return False
        if kind == "template_string":
            return any(
                self._eval(sub.named_children[0], state, mode)
                for sub in node.named_children
                if sub.type == "template_substitution" and sub.named_children
            )
        if kind == "binary_expression":
            operator = node.child_by_field_name("operator")
            op = ts.text(operator) if operator is not None else ""
            if op in ("+", "||", "??", "&&"):
                right = node.child_by_field_name("right")
                left = node.child_by_field_name("left")
                if op == "&&":
                    return right is not None and self._eval(right, state, mode)
                return any(self._eval(side, state, mode) for side in (left, right) if side is not None)
            return False
        if kind == "ternary_expression":
            return any(
                self._eval(branch, state, mode)
                for branch in (node.child_by_field_name("consequence"), node.child_by_field_name("alternative"))
                if branch is not None
            )
        if kind == "object":
            for member in node.named_children:
                if member.type == "pair":
                    key = ts.text(member.child_by_field_name("key"))
                    value = member.child_by_field_name("value")
                    if key not in METADATA_PROPS and value is not None and self._eval(value, state, mode):
                        return True
                elif member.type == "shorthand_property_identifier":
                    if ts.text(member) not in METADATA_PROPS and self._eval(member, state, mode):
                        return True
                elif (
                    member.type == "spread_element"
                    and member.named_children
                    and self._eval(member.named_children[0], state, mode)
                ):
                    return True
            return False
        if kind == "array":
            return any(
                self._eval(
                    el.named_children[0] if el.type == "spread_element" and el.named_children else el, state, mode
                )
                for el in node.named_children
            )
        if kind in ("spread_element", "jsx_expression", "template_substitution") and node.named_children:
            return self._eval(node.named_children[0], state, mode)
        if kind == "sequence_expression" and node.named_children:
            return self._eval(node.named_children[-1], state, mode)
        return False

    def _streamable_carries_llm(self, name: Node, state: _ModeState, mode: Mode) -> bool:
        """`stream.value` of `const stream = createStreamableValue(x)` (`ai/rsc`) carries `x` and what
        `stream.update(v)` / `stream.append(v)` / `stream.done(v)` are given, wherever they are called."""
        text = self._text(name)
        for value in self._values_bound_to(name, text):
            value = ts.unwrap(value)
            fn = value.child_by_field_name("function") if value.type == "call_expression" else None
            if fn is None or self._callee(fn) not in STREAMABLE_FACTORIES:
                continue
            args = value.child_by_field_name("arguments")
            if args is not None and args.named_children and self._eval(args.named_children[0], state, mode):
                return True
            scope = _scope_of(value)  # the function declaring the stream: writes to it are inside
            writes = [
                call
                for call in self._calls_named(STREAMABLE_WRITES)
                if scope.start_byte <= call.start_byte and call.end_byte <= scope.end_byte
            ]
            if self._hands_llm_data(writes, text, STREAMABLE_WRITES, state, mode):
                return True
        return False

    def _hands_llm_data(
        self, calls: Iterable[Node], receiver: str, methods: Collection[str], state: _ModeState, mode: Mode
    ) -> bool:
        """One of `calls` is `receiver.m(x, ...)`, with `m` one of `methods` and `x` LLM data."""
        for call in calls:
            callee = call.child_by_field_name("function")
            args = call.child_by_field_name("arguments")
            if callee is None or args is None or not args.named_children:
                continue
            obj, _, method = self._callee(callee).rpartition(".")
            if obj == receiver and method in methods and self._eval(args.named_children[0], state, mode):
                return True
        return False

    def _stream_enqueues_llm(self, source: Node, state: _ModeState, mode: Mode) -> bool:
        """`new ReadableStream({ async start(controller) { controller.enqueue(x) } })` (also `pull`, and
        `start: (c) => ...`): the stream carries what its controller is handed."""
        source = ts.unwrap(source)
        if source.type != "object":
            return False
        for member in source.named_children:
            fn: Node | None = None
            if member.type == "method_definition":
                fn = member if self._text(member.child_by_field_name("name")) in ("start", "pull") else None
            elif member.type == "pair" and self._text(member.child_by_field_name("key")) in ("start", "pull"):
                fn = member.child_by_field_name("value")
            params = _params(fn) if fn is not None and fn.type in FUNCTION_TYPES else []
            names = [name for _, name in _pattern_names(params[0], skip_metadata=False)] if params else []
            if fn is None or len(names) != 1:
                continue
            if self._hands_llm_data(self._calls_within(fn), names[0], ("enqueue",), state, mode):
                return True
        return False

    def _eval_call(self, call: Node, state: _ModeState, mode: Mode) -> bool:
        if self.is_direct_llm_call(call):
            return True
        fn = call.child_by_field_name("function")
        args = call.child_by_field_name("arguments")
        if fn is None:
            return False
        path = self._callee(fn)
        if path.rsplit(".", 1)[-1] in AI_SDK_HOOKS:
            return True
        first = args.named_children[0] if args is not None and args.named_children else None
        if path in HTML_SANITIZERS or path.endswith((".sanitize", "DOMPurify.sanitize")):
            return mode is Mode.PLAIN and first is not None and self._eval(first, state, mode)
        if path in PASS_THROUGH_FUNCTIONS:
            return first is not None and self._eval(first, state, mode)
        if path in STREAM_PART_ENCODERS and args is not None and len(args.named_children) > 1:
            return self._eval(args.named_children[1], state, mode)
        if self._callee_returns_llm(call, state, mode):
            return True
        if (
            fn.type == "identifier"
            and first is not None
            and first.type in FUNCTION_TYPES
            and self._returns_llm(first, state, mode)
        ):
            return (
                True  # `await pRetry(() => rawAnswer(q))`, `useMemo(() => render(answer))`: what the callback returns
            )
        if args is not None and self._returns_what_it_is_given(call, args, state, mode):
            return True
        fn = ts.unwrap(fn)
        if fn.type == "member_expression":
            method = self._text(fn.child_by_field_name("property"))
            obj = fn.child_by_field_name("object")
            if obj is None:
                return False
            if method in ("decode", "encode") and first is not None and self._eval(first, state, mode):
                return True  # `decoder.decode(value)`: the decoder holds nothing, the bytes it decodes do
            if method in CONTENT_METHODS:
                return self._eval(obj, state, mode)
            if method in ("push", "unshift", "set", "append", "add"):
                return False
            # Pages API `res.status(200).json(answer)` and friends carry their argument.
            if method in ("json", "send", "write", "end") and first is not None:
                return self._eval(first, state, mode)
        return False

    # ---- questions rules ask ---------------------------------------------------------------------

    def is_llm(self, node: Node) -> bool:
        """The expression carries LLM data (prompt or output, or content derived from them)."""
        return self._eval(node, self._state(Mode.PLAIN), Mode.PLAIN)

    def is_unsanitized_llm(self, node: Node) -> bool:
        """The expression carries LLM data that did not pass through an HTML sanitizer."""
        return self._eval(node, self._state(Mode.HTML), Mode.HTML)

    def seed_props(self, fn: Node, props: frozenset[str], mode: Mode) -> None:
        """Treat props `props` of component function `fn` as LLM data in `mode` (a caller passes LLM data).

        Covers `({ html })`, `({ html: body })`, `({ html = "" })`, `({ ...rest })` → `rest.html` and
        `(props)` → `props.html`. The mode's facts are recomputed on the next question.
        """
        names = _prop_names(fn, props)
        if not names:
            return
        seeds = self._param_seeds.setdefault(mode, set())
        new = {(fn.id, name) for name in names} - seeds
        if new:
            seeds.update(new)
            self._states.pop(mode, None)

    def spread_props(self, spread: Node, mode: Mode) -> frozenset[str]:
        """The props that carry LLM data in `mode` among those `<Answer {...props} />` passes on: `spread` (the
        identifier spread) holds the whole props of the component it is written in (`function Page(props)`,
        `({ title, ...rest })`), whose props a caller seeded (`seed_props`) or a Pages Router page's data functions
        fill. Another object spread (a `const`, a hook's result, another parameter) passes none of them."""
        name = self._text(spread)
        for scope in _scope_chain(spread):
            if (scope.id, name) not in self._declared_names:
                continue
            if scope.type not in FUNCTION_TYPES or not _whole_props_name(scope, name):
                return frozenset()
            prefix = f"{name}."
            return frozenset(
                key.split(".", 1)[0]
                for at, held in self._state(mode).tainted
                if at == scope.id and held.startswith(prefix) and (key := held[len(prefix) :])
            )
        return frozenset()

    # ---- Pages Router page props ---------------------------------------------------------------------

    @cached_property
    def _is_pages_page(self) -> bool:
        index = self.analysis.index
        return index.router_of(self.file) == "pages" and index.is_page(self.file)

    def _solve_page_props(self, state: _ModeState, mode: Mode) -> None:
        """Next.js renders a Pages Router page's default export with the props its data functions return: the props
        that carry LLM data are seeded into the component's parameter, as a caller's JSX would (`seed_props`), and
        the module is solved again. Data functions read this module's own facts, so until nothing is added."""
        if not self._is_pages_page:
            return
        for _ in range(_MAX_ROUNDS):
            new = self._page_prop_seeds(mode) - state.tainted
            if not new:
                return
            state.tainted |= new
            state.added |= new
            for _, name in new:
                state.note_name(name)
            self._solve(state, mode)

    def _page_prop_seeds(self, mode: Mode) -> set[tuple[int, str]]:
        components = self.exported_functions(frozenset({"default"}))
        page_class = self._page_class
        if not components and page_class is None:
            return set()
        keys, whole = self._page_props(mode)
        out: set[tuple[int, str]] = set()
        if page_class is not None:
            # A class component reads its props as `this.props.x` in each of its methods (`render`).
            names = {"this.props"} if whole else {f"this.props.{key}" for key in keys}
            for method in self._instance_methods(page_class):
                out.update((method.id, name) for name in names)
        for fn in components:
            names = _prop_names(fn, frozenset(keys))
            pattern = _props_pattern(fn) if whole else None
            if pattern is not None:
                # Props whose keys cannot be told (`props: await res.json()`): every prop but metadata.
                names.update(name for _, name in _pattern_names(pattern, skip_metadata=True))
            out.update((fn.id, name) for name in names)
        return out

    def _page_props(self, mode: Mode) -> tuple[set[str], bool]:
        """The props keys the page's data functions fill with LLM data in `mode`, and whether some props object
        is LLM data whose keys cannot be told. `getServerSideProps` / `getStaticProps` return `{ props }` (a
        `redirect` / `notFound` return has none); `Page.getInitialProps` returns the props themselves."""
        keys: set[str] = set()
        whole = False
        for owner, fn in self._page_data_functions():
            for result in owner._function_results(fn):
                for holder, obj in owner._literal_objects(result):
                    for member_owner, props in holder._members_named(obj, "props"):
                        found, opaque = member_owner._prop_keys(props, mode)
                        keys |= found
                        whole |= opaque
        for owner, fn in self._initial_props_functions():
            for result in owner._function_results(fn):
                found, opaque = owner._prop_keys(result, mode)
                keys |= found
                whole |= opaque
        return keys, whole

    def _page_data_functions(self) -> list[tuple[FileLlm, Node]]:
        """`getServerSideProps` / `getStaticProps` of this page: declared here (also `const f: GetStaticProps =
        async () => ...`, `= withSession(async () => ...)`, `= loadProps`), or re-exported from another module."""
        out: list[tuple[FileLlm, Node]] = []
        for name in PAGE_DATA_FUNCTIONS:
            for target, there in self.analysis.export_definitions(self.file.rel, name):
                owner = self if target.file.rel == self.file.rel else target
                found = owner.exported_functions(frozenset({there}))
                if not found and owner.root is not None:
                    local = owner._exports.get(there, there)
                    for value in owner._declarators.get((owner.root.id, local), []):
                        value = ts.unwrap(value)
                        if value.type == "identifier":
                            out.extend(owner._functions_named(owner._text(value)))
                out.extend((owner, fn) for fn in found)
        return out

    @cached_property
    def _page_class(self) -> Node | None:
        """The class declared here that a Pages Router page exports as its default (`export default class Page extends
        React.Component`), None for a function page or another module."""
        page = self._exports.get("default")
        return self._classes.get(page) if page is not None and self._is_pages_page else None

    @staticmethod
    def _instance_methods(cls: Node) -> list[Node]:
        body = cls.child_by_field_name("body")
        return [
            member
            for member in (body.named_children if body is not None else ())
            if member.type == "method_definition" and not any(child.type == "static" for child in member.children)
        ]

    def _initial_props_functions(self) -> list[tuple[FileLlm, Node]]:
        """`Page.getInitialProps = async (ctx) => ({ ... })` (or a named function) on the page's default export, or
        its class's `static async getInitialProps()`."""
        page = self._exports.get("default")
        if page is None or PAGE_INITIAL_PROPS.encode() not in self.file.data():
            return []
        out: list[tuple[FileLlm, Node]] = []
        if self._page_class is not None:
            out.extend((self, method) for method in self.class_methods(page, PAGE_INITIAL_PROPS))
        for node, kind in zip(self._nodes, self._kinds, strict=True):
            if kind != "assignment_expression":
                continue
            left = node.child_by_field_name("left")
            right = node.child_by_field_name("right")
            if left is None or right is None or left.type != "member_expression":
                continue
            obj = left.child_by_field_name("object")
            if self._text(left.child_by_field_name("property")) != PAGE_INITIAL_PROPS or self._text(obj) != page:
                continue
            right = ts.unwrap(right)
            if right.type in FUNCTION_TYPES:
                out.append((self, right))
            elif right.type == "identifier":
                out.extend(self._functions_named(self._text(right)))
        return out

    def _functions_named(self, name: str) -> list[tuple[FileLlm, Node]]:
        """The functions a name of this module refers to: declared here, or exported by the project module it is
        imported from."""
        local = self._functions.get(name)
        if local:
            return [(self, fn) for fn in local]
        imp = self._imports.get(name)
        if imp is None or imp.resolved is None or imp.imported == "*":
            return []
        return [
            (target, fn)
            for target, there in self.analysis.export_definitions(imp.resolved, imp.imported)
            for fn in target.exported_functions(frozenset({there}))
        ]

    def _function_results(self, fn: Node) -> list[Node]:
        """What a function returns: its expression body, or the values of its own `return` statements."""
        body = fn.child_by_field_name("body")
        if body is None:
            return []
        return self._returned_values(fn) if body.type == "statement_block" else [body]

    def _literal_objects(self, node: Node, depth: int = 0) -> Iterator[tuple[FileLlm, Node]]:
        """The object literals `node` may evaluate to, each with the module it is written in: the literal itself,
        what a `const` binds, either branch of `a ? b : c` / `a ?? b`, and what a project function returns
        (`return loadProps(ctx)`, here or imported)."""
        node = ts.unwrap(node)
        kind = node.type
        if kind == "object":
            yield self, node
        elif depth >= _MAX_OBJECT_DEPTH:
            return
        elif kind in ("identifier", "shorthand_property_identifier"):
            for value in self._values_bound_to(node, self._text(node)):
                yield from self._literal_objects(value, depth + 1)
        elif kind == "ternary_expression":
            for branch in (node.child_by_field_name("consequence"), node.child_by_field_name("alternative")):
                if branch is not None:
                    yield from self._literal_objects(branch, depth + 1)
        elif kind == "binary_expression" and self._text(node.child_by_field_name("operator")) in ("??", "||"):
            for side in (node.child_by_field_name("left"), node.child_by_field_name("right")):
                if side is not None:
                    yield from self._literal_objects(side, depth + 1)
        elif kind == "call_expression":
            for target_file, fn in self.callee_functions(node):
                owner = self if target_file.rel == self.file.rel else self.analysis.file(target_file)
                if owner is not None:
                    for result in owner._function_results(fn):
                        yield from owner._literal_objects(result, depth + 1)

    def _members_named(self, obj: Node, key: str, depth: int = 0) -> Iterator[tuple[FileLlm, Node]]:
        """The values member `key` of object literal `obj` may have: `key: v`, `{ key }`, spread in (`...base`)."""
        for member in obj.named_children:
            kind = member.type
            if kind == "pair" and self._text(member.child_by_field_name("key")).strip("\"'") == key:
                value = member.child_by_field_name("value")
                if value is not None:
                    yield self, value
            elif kind == "shorthand_property_identifier" and self._text(member) == key:
                yield self, member
            elif kind == "spread_element" and member.named_children and depth < _MAX_OBJECT_DEPTH:
                for owner, inner in self._literal_objects(member.named_children[0]):
                    yield from owner._members_named(inner, key, depth + 1)

    def _prop_keys(self, value: Node, mode: Mode, depth: int = 0) -> tuple[set[str], bool]:
        """The keys of a props object whose values are LLM data in `mode` (metadata keys aside: `tokens:
        r.usage.total_tokens` is not, a spread carries its object's keys), and whether the props are LLM data
        whose keys cannot be told (no object literal in sight)."""
        objects = list(self._literal_objects(value))
        if not objects:
            return set(), self._eval(value, self._state(mode), mode)
        keys: set[str] = set()
        whole = False
        for owner, obj in objects:
            state = owner._state(mode)
            for member in obj.named_children:
                kind = member.type
                if kind == "pair":
                    key = owner._text(member.child_by_field_name("key")).strip("\"'")
                    item = member.child_by_field_name("value")
                    if key not in METADATA_PROPS and item is not None and owner._eval(item, state, mode):
                        keys.add(key)
                elif kind == "shorthand_property_identifier":
                    key = owner._text(member)
                    if key not in METADATA_PROPS and owner._eval(member, state, mode):
                        keys.add(key)
                elif kind == "spread_element" and member.named_children and depth < _MAX_OBJECT_DEPTH:
                    found, opaque = owner._prop_keys(member.named_children[0], mode, depth + 1)
                    keys |= found
                    whole |= opaque
        return keys, whole

    def function_returns_llm(self, fn: Node, mode: Mode = Mode.PLAIN) -> bool:
        return fn.id in self._state(mode).returning

    def export_returns_llm(self, name: str, mode: Mode) -> bool:
        state = self._state(mode)
        return any(f.id in state.returning for f in self.exported_functions(frozenset({name})))

    def is_llm_url(self, node: Node) -> bool:
        """The expression is the URL of an LLM endpoint (LLM-ish env var, `/v1/chat/completions`, an own LLM route)."""
        return self._is_llm_url(node)

    def handlers(self) -> list[Node]:
        """Exported request handlers of a route file (GET, POST, ..., default)."""
        return self.exported_functions(ROUTE_HANDLER_EXPORTS)

    @property
    def returns_llm_to_client(self) -> bool:
        """A route whose handlers respond with LLM data."""
        return any(self.function_returns_llm(h) or self._responds_with_llm(h) for h in self.handlers())

    def _responds_with_llm(self, fn: Node) -> bool:
        for node in self._calls_within(fn):
            if node.type == "call_expression":
                callee = ts.callee_path(node.child_by_field_name("function") or node)
                if callee.endswith((".json", ".send", ".write", ".end")) and callee.startswith("res"):
                    args = node.child_by_field_name("arguments")
                    if args is not None and any(self.is_llm(a) for a in args.named_children):
                        return True
        return False

    def llm_call_nodes(self) -> list[Node]:
        """Direct LLM calls and calls of project functions that call an LLM."""
        return self._direct_calls + [
            node for node in self._calls[0] if node not in self._direct_calls and self._callee_calls_llm(node)
        ]


# Subpaths of the provider SDKs' packages (`@google/genai/node` exports the same client).
_SDK_SUBPATHS = tuple(f"{package}/" for package in SDK_CLIENT_CLASSES)


class LlmAnalysis:
    """Lazily analyses files of one app and answers cross-file questions (wrappers, own routes)."""

    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self._files: dict[str, FileLlm] = {}
        self._in_progress: set[str] = set()
        self._route_cache: dict[str, bool] = {}
        self._through: dict[tuple[str, int, int, Mode], bool] = {}
        self._instances: dict[str, tuple[FileLlm, str] | None] = {}
        self._routes_at: dict[str, SourceFile | None] = {}

    @cached_property
    def uses_provider_sdk(self) -> bool:
        """Whether a module that may call a model names a provider SDK package (`SDK_CLIENT_CLASSES`). Without one
        no SDK object exists, and calls named like SDK methods (`db.orders.create()`) need no receiver walk."""
        return self._client_packages[0]

    @cached_property
    def uses_client_classes(self) -> bool:
        """`uses_provider_sdk`, or a module that may call a model imports ollama-js: only then can a project function
        hand out an LLM client (`FileLlm._client_returned`), and only then are the names bound to what project
        functions return, or assigned a `new` expression, collected."""
        return self._client_packages[0] or self._client_packages[1]

    @cached_property
    def _client_packages(self) -> tuple[bool, bool]:
        """(a provider SDK, ollama-js) is imported by a module that may call a model, read in one pass over the
        specifiers (read for the prefilter before workers fork: no file is searched again)."""
        index = self.index
        sdk = ollama = False
        for rel in index.llm_candidates:
            f = index.get(rel)
            for spec in index.import_specs_of(f) if f is not None else ():
                if spec in SDK_CLIENT_CLASSES or spec.startswith(_SDK_SUBPATHS):
                    sdk = True
                elif spec == "ollama" or spec.startswith("ollama/"):
                    ollama = True
            if sdk and ollama:
                break
        return sdk, ollama

    def release(self) -> None:
        """Forget the analysed modules (each refers back to this analysis): once an app's rules are done, they are
        freed at once, not left to the cyclic garbage collector."""
        self._files.clear()

    def file(self, f: SourceFile) -> FileLlm | None:
        if f.root is None:
            return None
        cached = self._files.get(f.rel)
        if cached is None:
            if f.rel in self._in_progress:
                return None
            self._in_progress.add(f.rel)
            try:
                cached = self._files[f.rel] = FileLlm(self, f)
            finally:
                self._in_progress.discard(f.rel)
        return cached

    def _file_by_rel(self, rel: str) -> FileLlm | None:
        f = self.index.get(rel)
        if f is None or rel in self._in_progress:
            return None
        return self.file(f)

    def probe(self, f: SourceFile, fn: Node, names: frozenset[str]) -> FileLlm | None:
        """A separate analysis of `f` in which the parameters `names` of `fn` are LLM data, as when a
        caller passes LLM data to `fn`: it tells what that data reaches inside `fn`. The file's own
        analysis (`file(f)`) is left untouched."""
        if f.root is None or not names:
            return None
        probe = FileLlm(self, f)
        probe._param_seeds[Mode.PLAIN] = {(fn.id, name) for name in names}
        return probe

    def returns_parameter(self, f: SourceFile, fn: Node, index: int, mode: Mode) -> bool:
        """Function `fn` of `f` returns LLM data when its parameter `index` is LLM data (`mode`): what a caller
        passes comes back (`format(answer)`, `concatenate(messages)`). Decided once per function and parameter, on
        a separate analysis of `f` (as `probe`); a function asked about while it is being decided (recursion)
        answers no."""
        key = (f.rel, fn.id, index, mode)
        cached = self._through.get(key)
        if cached is not None:
            return cached
        marker = f"{f.rel}\x00{fn.id}\x00{index}\x00{mode.value}\x00through"
        if marker in self._in_progress or f.root is None:
            return False
        params = _params(fn)
        if index >= len(params):
            return False
        self._in_progress.add(marker)
        try:
            probe = FileLlm(self, f)
            probe._param_seeds[mode] = {(fn.id, name) for _, name in _pattern_names(params[index], skip_metadata=False)}
            result = bool(probe._param_seeds[mode]) and probe.function_returns_llm(fn, mode)
        finally:
            self._in_progress.discard(marker)
        self._through[key] = result
        return result

    def may_hold_llm_data(self, f: SourceFile) -> bool:
        """False when no expression of `f` can be LLM data, decided without parsing `f` where possible."""
        if f.rel in self.index.llm_candidates:
            return True
        analysed = self._files.get(f.rel)
        return analysed is not None and any(analysed._param_seeds.values())

    def export_definitions(self, rel: str, name: str) -> list[tuple[FileLlm, str]]:
        """The module `rel` with its export `name`, and the modules (with the name there) it re-exports it
        from, through barrels (`export * from`, `export { a as b } from`) up to eight deep."""
        out: list[tuple[FileLlm, str]] = []
        todo = [(rel, name, 0)]
        seen: set[tuple[str, str]] = set()
        while todo:
            at, there, depth = todo.pop()
            if (at, there) in seen:
                continue
            seen.add((at, there))
            target = self._file_by_rel(at)
            if target is None:
                continue
            out.append((target, there))
            if depth < 8:
                todo.extend((origin, named, depth + 1) for origin, named in target.export_origins(there))
        return out

    def offers_classes(self, rel: str) -> bool:
        """Module `rel` may hand its importers a class-based service (`FileLlm.offers_classes`). Only modules the
        prefilter keeps are asked: a service whose methods call a model is declared in one, and so is an
        instance of it exported elsewhere (that module imports it); other modules are not parsed for this."""
        if rel not in self.index.llm_candidates:
            return False
        target = self._file_by_rel(rel)
        return target is not None and target.offers_classes

    def exported_instance_class(self, rel: str, name: str) -> tuple[FileLlm, str] | None:
        """The class of an instance a project module exports (`export const aiService = new AiService()`)."""
        key = f"{rel}\x00{name}\x00instance"
        if key in self._instances:
            return self._instances[key]
        if key in self._in_progress:
            return None
        self._in_progress.add(key)
        found = None
        try:
            for target, there in self.export_definitions(rel, name):
                found = target.instance_class(there)
                if found is not None:
                    break
        finally:
            self._in_progress.discard(key)
        self._instances[key] = found
        return found

    def export_returns_llm(self, rel: str, name: str, mode: Mode) -> bool:
        key = f"{rel}\x00{name}\x00{mode.value}"
        if key in self._in_progress:
            return False
        self._in_progress.add(key)
        try:
            return any(target.export_returns_llm(there, mode) for target, there in self.export_definitions(rel, name))
        finally:
            self._in_progress.discard(key)

    def export_is_langchain_model(self, rel: str, name: str) -> bool:
        key = f"{rel}\x00{name}\x00langchain"
        if key in self._in_progress:
            return False
        self._in_progress.add(key)
        try:
            return any(target.exports_langchain_model(there) for target, there in self.export_definitions(rel, name))
        finally:
            self._in_progress.discard(key)

    def export_calls_llm(self, rel: str, name: str) -> bool:
        key = f"{rel}\x00{name}\x00calls"
        if key in self._in_progress:
            return False
        self._in_progress.add(key)
        try:
            return any(target.export_calls_llm(there) for target, there in self.export_definitions(rel, name))
        finally:
            self._in_progress.discard(key)

    def route_at(self, url: str) -> SourceFile | None:
        """`ProjectIndex.route_for_url`, remembered: a URL that names no route exactly is compared with every
        route, and an app fetches the same few paths behind base URLs (`${INVENTORY_URL}/stock`) everywhere."""
        if url in self._routes_at:
            return self._routes_at[url]
        route = self._routes_at[url] = self.index.route_for_url(url)
        return route

    def route_returns_llm(self, route: SourceFile) -> bool:
        cached = self._route_cache.get(route.rel)
        if cached is None:
            self._route_cache[route.rel] = False  # recursion guard for routes that fetch themselves
            target = self.file(route)
            cached = target is not None and target.returns_llm_to_client
            self._route_cache[route.rel] = cached
        return cached

    def calls_llm(self, f: SourceFile) -> bool:
        target = self.file(f)
        return target is not None and target.calls_llm


def _imports_package(specs: list[str], package: str) -> bool:
    # `openai/resources/...` subpaths are type imports; only `ai`'s entry points (`ai/react`, `ai/rsc`) are clients.
    return any(spec == package or (package == "ai" and spec.startswith("ai/")) for spec in specs)


def client_families_in(analysis: LlmAnalysis, rels: Iterable[str]) -> set[str]:
    """The LLM client families whose calls were recognised in the files `rels` (a scan worker's, analysed
    already: the parent unions them instead of analysing every file again)."""
    seen: set[str] = set()
    for rel in rels:
        f = analysis.index.get(rel)
        llm = analysis.file(f) if f is not None else None
        if llm is not None:
            seen |= llm.client_families
    return seen


def blind_spots(
    analysis: LlmAnalysis, shown: Callable[[str], str] = str, seen_families: set[str] | None = None
) -> list[str]:
    """Warnings for LLM clients the app depends on and imports while none of their calls was recognised as an LLM
    call (`LLM_CLIENT_PACKAGES`): what those calls send and return is invisible to the LLM-data rules, and a scan
    that finds nothing there would otherwise look clean. `shown`: how a file of the app is named (from the scanned
    root)."""
    index = analysis.index
    importers: dict[str, list[str]] = {}
    for package in LLM_CLIENT_PACKAGES:
        if index.declared_dependency(package) is None:
            continue
        files = [f.rel for f in index.sources if _imports_package(index.import_specs_of(f), package)]
        if files:
            importers[package] = files
    if not importers:
        return []
    wanted: set[str] = set().union(*(LLM_CLIENT_PACKAGES[p] for p in importers))
    any_call = "*" in wanted
    wanted.discard("*")
    seen: set[str] = set() if seen_families is None else set(seen_families)
    # Only files the byte prefilter keeps can hold a model call; stop as soon as every family in question is seen.
    for rel in sorted(index.llm_candidates) if seen_families is None else ():
        if wanted <= seen and (seen or not any_call):
            break
        f = index.get(rel)
        llm = analysis.file(f) if f is not None else None
        if llm is not None:
            seen |= llm.client_families
    out = []
    for package, files in importers.items():
        families = LLM_CLIENT_PACKAGES[package]
        if families & seen or ("*" in families and seen):
            continue
        where = shown(files[0]) + (f" and {len(files) - 1} more" if len(files) > 1 else "")
        out.append(
            f"{shown('package.json')}: {package} is a dependency and {where} imports it, but no call through it "
            "was recognised as an LLM call: LL006, LL007 and the other LLM-data rules cannot see what it sends or "
            "returns"
        )
    return out
