// Labels in Chinese and English; the choice is kept in localStorage.
// Only this module knows the words: views ask t(key) and re-render on a switch.

const STORE_KEY = "diagnosis.lang";

const MESSAGES = {
  zh: {
    appTitle: "品牌 AI 诊断",
    appSubtitle: "看 AI 助手如何谈论你的品牌",
    navNew: "新建诊断",
    navHistory: "历史记录",
    token: "访问令牌",
    tokenHint: "服务开启鉴权时填写（仅保存在本标签页）",
    tokenPlaceholder: "Bearer 令牌",
    save: "保存",
    clear: "清除",
    tokenSaved: "令牌已保存",
    authError: "需要有效的访问令牌：请在右上角「访问令牌」中填写。",
    formTitle: "新建诊断",
    formIntro: "在多个 AI 平台上并发提问，统计品牌的提及率、排名、情感与声量份额。",
    brand: "品牌",
    brandPlaceholder: "例如：蔚来",
    aliases: "品牌别名",
    aliasesHint: "用逗号分隔，例如：NIO, 蔚来汽车",
    competitors: "竞品",
    competitorsHint: "每行一个；别名写在冒号后，例如：小鹏: XPeng, 小鹏汽车",
    questions: "问题",
    questionsHint: "每行一个；{brand} 会按每个品牌展开；留空则使用默认问题",
    platforms: "AI 平台",
    platformsLoading: "正在加载平台…",
    needsKey: "需设置 {0}",
    notConfigured: "未配置",
    samples: "采样次数",
    samplesHint: "每个问题重复提问的次数（1–10）",
    deadline: "截止时间（秒）",
    deadlineHint: "可选，1–3600",
    estimate: "预计 {0} 次调用",
    start: "开始诊断",
    starting: "正在发起…",
    pickPlatform: "请至少选择一个平台",
    historyTitle: "历史记录",
    historyEmpty: "还没有诊断记录",
    refresh: "刷新",
    prev: "上一页",
    next: "下一页",
    pageOf: "第 {0} / {1} 页",
    back: "← 返回",
    runTitle: "诊断进度",
    connLive: "实时连接",
    connConnecting: "连接中…",
    connReconnecting: "重新连接中…",
    connClosed: "已结束",
    cancel: "取消诊断",
    cancelling: "正在取消…",
    retry: "重试失败项",
    retryOf: "← 原诊断",
    progress: "总进度",
    tasksDone: "{0} 成功 · {1} 失败 · 共 {2}",
    perPlatform: "各平台进度",
    breaker: "熔断器",
    results: "逐条结果",
    resultsCount: "{0} 条",
    resultsEmpty: "结果会在完成时实时出现",
    colPlatform: "平台",
    colQuestion: "问题",
    colStatus: "状态",
    colMentions: "提及",
    colLatency: "耗时",
    colAnswer: "回答摘要",
    noMention: "未提及任何品牌",
    attempts: "{0} 次尝试",
    report: "诊断报告",
    reportLoading: "正在生成报告…",
    download: "下载",
    openHtml: "HTML 报告",
    summaryOk: "成功回答",
    summaryFailed: "失败",
    visibility: "可见度得分",
    mentionRate: "提及率",
    avgRank: "平均排名",
    top1: "首位占比",
    sov: "声量份额",
    sovWeighted: "加权声量份额",
    sentiment: "情感指数",
    chartMention: "各品牌提及率",
    chartSov: "声量份额",
    chartPlatform: "分平台提及率",
    brandsTable: "品牌指标",
    colBrand: "品牌",
    own: "本品牌",
    gaps: "内容缺口",
    gapsHint: "竞品被提及而本品牌缺席的问题",
    gapsEmpty: "没有发现缺口",
    colGapAnswers: "缺口回答",
    colCompetitors: "出现的竞品",
    sources: "引用来源",
    sourcesEmpty: "回答中没有引用来源",
    colDomain: "域名",
    colCount: "次数",
    errors: "错误分布",
    note: "说明",
    notFound: "找不到这次诊断",
    loadFailed: "加载失败：{0}",
    templated: "模板",
    open: "开放",
    justNow: "刚刚",
    status: {
      queued: "排队中", running: "运行中", completed: "已完成", partial_success: "部分成功",
      failed: "失败", cancelled: "已取消", timeout: "已超时",
      ok: "成功", error: "失败", pending: "等待中",
    },
    stage: { init: "准备", ai_fetching: "询问 AI", analyzing: "分析中", done: "完成" },
    breakerState: { closed: "正常", open: "熔断", half_open: "试探中" },
    errorKind: {
      timeout: "请求超时", rate_limited: "被限流", server_error: "平台服务错误",
      auth: "鉴权失败（检查 API Key）", bad_request: "请求无效", bad_response: "响应无法解析",
      network: "网络错误", circuit_open: "平台熔断中", deadline: "超过截止时间",
      cancelled: "已取消",
    },
    sentimentLabel: { positive: "正面", neutral: "中性", negative: "负面" },
  },
  en: {
    appTitle: "Brand AI Diagnosis",
    appSubtitle: "How AI assistants talk about your brand",
    navNew: "New diagnosis",
    navHistory: "History",
    token: "Access token",
    tokenHint: "Needed when the service has auth on (kept in this tab only)",
    tokenPlaceholder: "Bearer token",
    save: "Save",
    clear: "Clear",
    tokenSaved: "Token saved",
    authError: "A valid access token is required: enter it under “Access token” (top right).",
    formTitle: "New diagnosis",
    formIntro: "Ask every question on several AI platforms at once and measure mention rate, rank, tone and share of voice.",
    brand: "Brand",
    brandPlaceholder: "e.g. NIO",
    aliases: "Aliases",
    aliasesHint: "Comma separated, e.g. 蔚来, NIO Inc",
    competitors: "Competitors",
    competitorsHint: "One per line; aliases after a colon, e.g. XPeng: 小鹏, Xpeng Motors",
    questions: "Questions",
    questionsHint: "One per line; {brand} is expanded per brand; empty = a default set",
    platforms: "AI platforms",
    platformsLoading: "Loading platforms…",
    needsKey: "set {0}",
    notConfigured: "not configured",
    samples: "Samples",
    samplesHint: "Times each question is asked (1–10)",
    deadline: "Deadline (s)",
    deadlineHint: "Optional, 1–3600",
    estimate: "≈ {0} calls",
    start: "Start diagnosis",
    starting: "Starting…",
    pickPlatform: "Pick at least one platform",
    historyTitle: "History",
    historyEmpty: "No diagnoses yet",
    refresh: "Refresh",
    prev: "Previous",
    next: "Next",
    pageOf: "Page {0} of {1}",
    back: "← Back",
    runTitle: "Progress",
    connLive: "Live",
    connConnecting: "Connecting…",
    connReconnecting: "Reconnecting…",
    connClosed: "Ended",
    cancel: "Cancel",
    cancelling: "Cancelling…",
    retry: "Retry failed tasks",
    retryOf: "← original run",
    progress: "Overall progress",
    tasksDone: "{0} ok · {1} failed · {2} total",
    perPlatform: "Platforms",
    breaker: "Breaker",
    results: "Results",
    resultsCount: "{0} rows",
    resultsEmpty: "Results appear here as they finish",
    colPlatform: "Platform",
    colQuestion: "Question",
    colStatus: "Status",
    colMentions: "Mentions",
    colLatency: "Latency",
    colAnswer: "Answer preview",
    noMention: "no tracked brand",
    attempts: "{0} attempts",
    report: "Report",
    reportLoading: "Building the report…",
    download: "Download",
    openHtml: "HTML report",
    summaryOk: "Answers ok",
    summaryFailed: "Failed",
    visibility: "Visibility score",
    mentionRate: "Mention rate",
    avgRank: "Avg. rank",
    top1: "Top-1 share",
    sov: "Share of voice",
    sovWeighted: "Weighted SoV",
    sentiment: "Sentiment index",
    chartMention: "Mention rate by brand",
    chartSov: "Share of voice",
    chartPlatform: "Mention rate by platform",
    brandsTable: "Brand metrics",
    colBrand: "Brand",
    own: "own",
    gaps: "Gaps",
    gapsHint: "Questions where a competitor is named and your brand is not",
    gapsEmpty: "No gaps found",
    colGapAnswers: "Gap answers",
    colCompetitors: "Competitors present",
    sources: "Top sources",
    sourcesEmpty: "No sources cited in the answers",
    colDomain: "Domain",
    colCount: "Count",
    errors: "Errors",
    note: "Note",
    notFound: "This diagnosis does not exist",
    loadFailed: "Could not load: {0}",
    templated: "templated",
    open: "open",
    justNow: "just now",
    status: {
      queued: "Queued", running: "Running", completed: "Completed",
      partial_success: "Partial success", failed: "Failed", cancelled: "Cancelled",
      timeout: "Timed out", ok: "OK", error: "Error", pending: "Pending",
    },
    stage: { init: "Preparing", ai_fetching: "Asking AI", analyzing: "Analysing", done: "Done" },
    breakerState: { closed: "closed", open: "open", half_open: "half-open" },
    errorKind: {
      timeout: "Timed out", rate_limited: "Rate limited", server_error: "Platform server error",
      auth: "Auth failed (check the API key)", bad_request: "Bad request",
      bad_response: "Unreadable response", network: "Network error",
      circuit_open: "Circuit open (platform paused)", deadline: "Deadline reached",
      cancelled: "Cancelled",
    },
    sentimentLabel: { positive: "positive", neutral: "neutral", negative: "negative" },
  },
};

function initialLang() {
  const saved = localStorage.getItem(STORE_KEY);
  if (saved === "zh" || saved === "en") return saved;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en";
}

let lang = initialLang();

export function currentLang() {
  return lang;
}

export function setLang(next) {
  lang = next === "en" ? "en" : "zh";
  localStorage.setItem(STORE_KEY, lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

/** More words from a page's own module (e.g. monitors_i18n.js), per language. */
export function extendMessages(extra) {
  for (const [code, words] of Object.entries(extra)) Object.assign(MESSAGES[code], words);
}

/** A label; `{0}`, `{1}` … are replaced by the arguments. Unknown keys show themselves. */
export function t(key, ...args) {
  const text = MESSAGES[lang][key] ?? MESSAGES.en[key] ?? key;
  return String(text).replace(/\{(\d)\}/g, (_, i) => String(args[Number(i)] ?? ""));
}

/** A label from one of the vocabularies (status, stage, errorKind …); falls back to the code. */
export function label(group, code) {
  if (code == null) return "";
  return MESSAGES[lang][group]?.[code] ?? MESSAGES.en[group]?.[code] ?? String(code);
}

/** Static labels marked in the HTML with data-i18n / data-i18n-placeholder. */
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
  }
  document.title = t("appTitle");
}

setLang(lang);
