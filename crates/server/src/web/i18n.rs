//! The pages' two languages. English is the key; a missing Chinese entry falls back to it, and a
//! unit test makes sure none is missing.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The first supported language of an `Accept-Language` header, by its order of preference
    /// (q-values), English when none is.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best = (Lang::En, -1.0f32);
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces.find_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.parse::<f32>().ok())).unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("zh") => Lang::Zh,
                Some("en") => Lang::En,
                _ => continue,
            };
            if q > best.1 {
                best = (lang, q);
            }
        }
        best.0
    }

    /// The sentence a notification about an event of type `kind` shows `side`, in this
    /// language (`None` for events that are not worth one).
    pub fn notification(
        self,
        kind: &str,
        side: souk_domain::notify::Side,
        policy: &souk_domain::order::Policy,
    ) -> Option<String> {
        let zh = self == Lang::Zh;
        souk_domain::notify::template(kind, side, policy)
            .map(|(t, n)| souk_domain::notify::in_language(t, zh).replace("{n}", &n.to_string()))
    }

    /// The text for `key` (the English wording) in this language.
    pub fn t(self, key: &'static str) -> &'static str {
        match self {
            Lang::En => key,
            Lang::Zh => ZH.iter().find(|(en, _)| *en == key).map_or(key, |(_, zh)| zh),
        }
    }
}

/// Codes the API speaks that pages show (a transfer's kind, a tracking event, a dispute's reason,
/// state and evidence, a quote's state, an audit action) → their words, in English.
const CODES: &[(&str, &str)] = &[
    ("top_up", "Top-up"),
    ("payout", "Payout"),
    ("payment", "Payment"),
    ("refund", "Refund"),
    ("release", "Sale proceeds"),
    ("commission", "Commission"),
    ("allocation", "Payment into the order's escrow"),
    ("picked_up", "Picked up"),
    ("in_transit", "In transit"),
    ("out_for_delivery", "Out for delivery"),
    ("delivered", "Delivered"),
    ("exception", "Delivery problem"),
    ("not_received", "Not received"),
    ("not_as_described", "Not as described"),
    ("damaged", "Damaged"),
    ("wrong_item", "Wrong item"),
    ("other", "Other"),
    ("awaiting_seller", "Awaiting the seller"),
    ("refund_offered", "Refund offered"),
    ("return_requested", "Return requested"),
    ("return_shipped", "Return shipped"),
    ("rejected", "Rejected"),
    ("mediation", "In mediation"),
    ("resolved", "Resolved"),
    ("buyer", "Buyer"),
    ("seller", "Seller"),
    ("mediator", "Mediator"),
    ("system", "Automatic rule"),
    ("opened", "Opened the dispute"),
    ("answer", "Answer"),
    ("return", "Return"),
    ("decision", "Decision"),
    ("note", "Note"),
    ("evidence", "Evidence"),
    ("submitted", "Submitted"),
    ("accepted", "Accepted"),
    ("not_selected", "Not selected"),
    ("scheduled", "Scheduled"),
    ("live", "Live now"),
    ("sold_out", "Sold out"),
    ("ended", "Ended"),
    ("volume", "Sales volume"),
    ("rating", "Ratings"),
    ("detailed", "Detailed ratings"),
    ("on_time", "Shipped on time"),
    ("delivery", "Delivery speed"),
    ("disputes", "Few disputes"),
    ("refunds", "Few refunds"),
    ("response", "Chat response"),
    ("verification", "Identity verification"),
    ("tenure", "Time on Souk"),
    ("role.granted", "Role granted"),
    ("role.revoked", "Role revoked"),
    ("admin", "Admin"),
    ("partial_refund", "Partial refund"),
    ("verification.approved", "Verification approved"),
    ("verification.rejected", "Verification rejected"),
    ("dispute.decided", "Dispute decided"),
    ("payout.made", "Payout made"),
];

/// The words for a code the API speaks, in English (to translate with [`Lang::t`]); the code
/// itself when it has none.
pub fn code_label(code: &str) -> Option<&'static str> {
    CODES.iter().find(|(c, _)| *c == code).map(|(_, en)| *en)
}

/// What the rules say is expected of an input (the API's `message`), in Chinese: the fixed
/// sentences, then the ones that carry a number.
pub fn refusal_zh(message: &str) -> Option<String> {
    const FIXED: &[(&str, &str)] = &[
        ("a whole number", "请填写整数"),
        ("a whole number of units", "请填写整数件数"),
        ("must not be empty", "不能为空"),
        ("must not contain control characters", "不能包含控制字符"),
        ("must be an email address like name@example.com", "请填写邮箱地址，例如 name@example.com"),
        ("a positive price", "价格须大于零"),
        ("1 to 5 stars", "1 到 5 星"),
        ("letters and digits only", "只能包含字母和数字"),
        ("SKU codes must be unique", "规格编码不能重复"),
        ("a product needs at least one SKU", "商品至少需要一个规格"),
        ("this product is not for sale", "该商品不在售"),
        ("the product is not on sale", "该商品不在售"),
        ("you cannot buy from your own store", "不能购买自己店铺的商品"),
        ("nothing to check out: the cart is empty", "购物车是空的，无可结算"),
        ("a reply needs some text", "回复需要填写内容"),
        ("a rejection says why, with evidence", "拒绝时请说明理由并附上证据"),
        ("a rejection needs a reason the seller can act on", "拒绝时请写明卖家可据以改正的理由"),
        ("the partial refund", "请填写部分退款金额"),
        ("more than nothing and less than the order's total", "须大于零且小于订单总额"),
        ("more than the order's total", "超过了订单总额"),
        ("the order total is too large", "订单总额过大"),
        ("too large", "数值过大"),
        ("in the future, at most 30 days ahead", "须为将来的时间，最多 30 天后"),
        ("between one hour and 60 days from now", "须在现在起 1 小时到 60 天之间"),
        ("after the start, and at most 7 days later", "须晚于开始时间，且最多晚 7 天"),
        ("a message says something or shows an image", "消息需要文字或图片"),
        ("what kind of thing is needed", "请说明需要什么"),
        ("where the order ships", "请填写收货国家"),
        ("an RFC 3339 time", "请填写有效的时间"),
        ("a tier starts at a whole quantity", "阶梯价须从整数数量开始"),
        ("0 to 365 days", "0 到 365 天"),
        ("at most 5 documents", "最多 5 份证件"),
        ("write decimals with a point, as 12.50", "小数请用小数点，例如 12.50"),
        ("this is not your current password", "这不是您当前的密码"),
        ("this link is used, expired or unknown; ask for a new one", "此链接已使用、已过期或无效，请重新获取"),
        ("this is the address the account has", "这就是账户当前的地址"),
        ("1 to 100 characters, no control characters", "1 到 100 个字符，不能包含控制字符"),
        ("a time zone name such as Asia/Shanghai or Europe/Berlin", "请选择时区，例如 Asia/Shanghai"),
        ("this code is wrong or was used already; try the newest one", "验证码错误或已使用，请输入最新的验证码"),
    ];
    if let Some((_, zh)) = FIXED.iter().find(|(en, _)| *en == message) {
        return Some(zh.to_string());
    }
    // "3 to 40 characters", "at most 2000 characters", "between 1 and 1000000", ...
    let numbers = |rest: &str| -> Option<Vec<String>> {
        let n: Vec<String> =
            rest.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()).map(String::from).collect();
        (!n.is_empty()).then_some(n)
    };
    let n = numbers(message)?;
    let first = n.first()?;
    let last = n.last()?;
    let zh = if message.starts_with("write decimals with a point") {
        "小数请用小数点，例如 12.50".to_string()
    } else if message.ends_with(" characters") && message.contains(" to ") {
        format!("{first} 到 {last} 个字符")
    } else if message.starts_with("must be at least") {
        format!("至少 {first} 个字符")
    } else if message.ends_with(" characters") {
        format!("最多 {last} 个字符")
    } else if message.contains("between ") {
        format!("须在 {first} 到 {last} 之间")
    } else if message.ends_with(" images") {
        format!("最多 {last} 张图片")
    } else if message.ends_with(" units available") {
        format!("1 到现有的 {last} 件")
    } else {
        return None;
    };
    Some(zh)
}

/// The English phrases the pages have in Chinese too: a test that reads Chinese pages looks
/// for any of them left in English.
pub fn translated_phrases() -> impl Iterator<Item = &'static str> {
    ZH.iter().chain(&souk_domain::notify::TEMPLATES).map(|(en, _)| *en)
}

/// English → Chinese.
const ZH: &[(&str, &str)] = &[
    ("Search", "搜索"),
    ("Search products", "搜索商品"),
    ("Categories", "分类"),
    ("Featured products", "精选商品"),
    ("Log in", "登录"),
    ("Log out", "退出"),
    ("Email", "邮箱"),
    ("Password", "密码"),
    ("Wrong email or password.", "邮箱或密码错误。"),
    ("Too many attempts; try again later.", "尝试次数过多，请稍后再试。"),
    ("Demo log-ins", "演示账号"),
    ("Every role of the demo marketplace:", "演示市场的所有角色："),
    ("role", "角色"),
    ("results", "个结果"),
    ("No products match.", "没有匹配的商品。"),
    ("Sort", "排序"),
    ("Best match", "最佳匹配"),
    ("Price: low to high", "价格从低到高"),
    ("Price: high to low", "价格从高到低"),
    ("Newest", "最新"),
    ("Seller rating", "卖家评分"),
    ("In stock only", "仅显示有货"),
    ("Apply", "应用"),
    ("Your data", "您的数据"),
    ("Download everything Souk holds about you (JSON)", "下载 Souk 保存的您的全部数据（JSON）"),
    ("Delete the account", "注销账户"),
    ("Your name, email and what could reach you are erased; orders and payments stay in the books under an anonymous account. This cannot be undone.", "您的名字、邮箱和联系方式将被清除；订单和付款记录以匿名账户保留在账目中。此操作无法撤销。"),
    ("An account with open orders or money in its wallet cannot be deleted: finish the orders and pay the money out first.", "有未完成订单或钱包有余额的账户无法注销：请先完成订单并提现。"),
    ("Delete the account for good?", "确定永久注销账户吗？"),
    ("Your account is deleted. Thank you for having been with Souk.", "您的账户已注销。感谢您曾使用 Souk。"),
    ("Some of your orders are still open: finish or cancel them first.", "您还有未完成的订单：请先完成或取消。"),
    ("Your wallet still holds money: pay it out first.", "您的钱包还有余额：请先提现。"),
    ("A top-up is waiting for the card's provider: try again once it is settled.", "有一笔充值正在等待发卡方确认：确认后再试。"),
    ("Besides the password, signing in asks for a code from an authenticator app on your phone: a stolen password alone is not enough.", "登录时除密码外，还需输入手机上身份验证器应用显示的验证码：仅凭被盗的密码无法登录。"),
    ("Cannot scan? Type this key into the app instead:", "无法扫描？请在应用中手动输入此密钥："),
    ("Code", "验证码"),
    ("Dispute opened", "已发起纠纷"),
    ("From now on, signing in asks for a code from your authenticator app.", "从现在起，登录时需要输入身份验证器应用中的验证码。"),
    ("I have kept them", "我已妥善保存"),
    ("Not now", "以后再说"),
    ("On", "已开启"),
    ("Open an authenticator app on your phone (such as Google Authenticator, Microsoft Authenticator or 1Password) and scan this code:", "在手机上打开身份验证器应用（如 Google Authenticator、Microsoft Authenticator 或 1Password），扫描此二维码："),
    ("QR code for the authenticator app", "身份验证器应用的二维码"),
    ("Sign in", "登录"),
    ("Start again", "重新开始"),
    ("The sign-in took too long; please start again.", "登录超时，请重新开始。"),
    ("Turn it on", "去开启"),
    ("Turn off", "关闭"),
    ("Turn on", "开启"),
    ("Turn on two-step sign-in", "开启两步登录"),
    ("Turn two-step sign-in off", "关闭两步登录"),
    ("Two-step sign-in", "两步登录"),
    ("Two-step sign-in is on", "两步登录已开启"),
    ("Type the six-digit code the app shows:", "输入应用显示的六位验证码："),
    ("Type the six-digit code your authenticator app shows, or one of your recovery codes.", "请输入身份验证器应用显示的六位验证码，或一个恢复码。"),
    ("Without your phone, each of these codes signs you in once. Keep them somewhere safe: they are shown only now.", "没有手机时，每个恢复码可登录一次。请妥善保存：它们只显示这一次。"),
    ("Your operator role works once two-step sign-in is on.", "开启两步登录后，您的运营角色才会生效。"),
    ("Your recovery codes", "您的恢复码"),
    ("recovery code left", "个恢复码可用"),
    ("recovery codes left", "个恢复码可用"),
    ("signing in asks for a code from your authenticator app.", "登录时需要输入身份验证器应用中的验证码。"),
    ("Already have an account?", "已有账户？"),
    ("Ask for a new link", "重新获取链接"),
    ("Back to log in", "返回登录"),
    ("Change the email address", "更换邮箱地址"),
    ("Change the password", "修改密码"),
    ("Check your email", "请查收邮件"),
    ("Confirm this address", "确认此地址"),
    ("Confirm your email address", "确认您的邮箱地址"),
    ("Create an account", "注册账户"),
    ("Create your account", "注册您的账户"),
    ("Currency for amounts you type", "填写金额时默认的币种"),
    ("Every device signed in to the account is signed out.", "所有已登录该账户的设备都将退出登录。"),
    ("Every other device signed in to the account is signed out.", "该账户在其他设备上的登录都将退出。"),
    ("Forgot your password?", "忘记密码？"),
    ("If an account uses this address, a link to choose a new password is on its way to", "如果有账户使用此地址，设置新密码的链接已发送至"),
    ("New email address", "新邮箱地址"),
    ("New to Souk?", "第一次使用 Souk？"),
    ("Profile", "个人资料"),
    ("Reset your password", "重置密码"),
    ("Send a confirmation link", "发送确认链接"),
    ("Send the confirmation link again", "重新发送确认链接"),
    ("Send the link", "发送链接"),
    ("Set the new password", "设置新密码"),
    ("Sign out every other device", "退出其他所有设备"),
    ("Sign out every other device?", "要退出其他所有设备吗？"),
    ("Sign out", "退出登录"),
    ("Sign up", "注册"),
    ("Signed-in devices", "已登录的设备"),
    ("The account keeps its address until the link sent to the new one is opened.", "在新地址收到的链接被打开之前，账户仍使用原地址。"),
    ("The browser's", "跟随浏览器"),
    ("The link works once, for 30 minutes. Nothing arrived? Look in the spam folder, or ask again in a few minutes.", "链接 30 分钟内有效，只能使用一次。没有收到？请查看垃圾邮件，或几分钟后再试。"),
    ("This link is used or expired. Ask for a new one on your account page.", "此链接已使用或已过期。请在账户页面重新获取。"),
    ("This link is used or expired: links work once, for 30 minutes.", "此链接已使用或已过期：链接 30 分钟内有效，只能使用一次。"),
    ("Time zone", "时区"),
    ("Type the email address of your account: we send a link to choose a new password.", "请填写您账户的邮箱地址，我们会发送设置新密码的链接。"),
    ("Unknown device", "未知设备"),
    ("Your account", "我的账户"),
    ("Your name, as sellers and buyers see it", "您的名字（买家和卖家可见）"),
    ("confirmed", "已确认"),
    ("last used", "最近使用"),
    ("not confirmed yet", "尚未确认"),
    ("signed in", "登录于"),
    ("this device", "本设备"),
    ("Password (at least 10 characters)", "密码（至少 10 个字符）"),
    ("New password (at least 10 characters)", "新密码（至少 10 个字符）"),
    ("Your current password", "您当前的密码"),
    ("Current password", "当前密码"),
    ("Welcome to Souk! We emailed you a link: open it to confirm your address.", "欢迎来到 Souk！我们已向您发送一封邮件，请打开其中的链接确认您的邮箱地址。"),
    ("Your password is changed and every device is signed out: log in with the new one.", "密码已修改，所有设备均已退出登录：请用新密码登录。"),
    ("A link is on its way to the new address: the change is made when it is opened.", "链接已发送至新地址：打开链接后即完成更换。"),
    ("A new confirmation link is on its way.", "新的确认链接已发送。"),
    ("Your email address is confirmed.", "您的邮箱地址已确认。"),
    ("Your password is changed; every other device is signed out.", "密码已修改；其他所有设备均已退出登录。"),
    ("That device is signed out.", "该设备已退出登录。"),
    ("Every other device is signed out.", "其他所有设备均已退出登录。"),
    ("This file is not a picture Souk takes: choose a JPEG, PNG or WebP image.", "此文件不是可接受的图片：请选择 JPEG、PNG 或 WebP 图片。"),
    ("The file is too large: at most 10 MB.", "文件过大：最大 10 MB。"),
    ("Add photos", "添加照片"),
    ("Add scans or photos of the documents", "添加证件的扫描件或照片"),
    ("Uploading", "正在上传"),
    ("added", "已添加"),
    ("the upload failed; please try again.", "上传失败，请重试。"),
    ("JPEG, PNG or WebP, up to 10 MB each; location and camera data are removed.", "JPEG、PNG 或 WebP，每张最大 10 MB；位置和相机信息会被移除。"),
    ("Your session has ended: log in again.", "登录已过期，请重新登录。"),
    ("d", "天"),
    ("This tracking number does not match the carrier's format.", "运单号与所选承运商的格式不符。"),
    ("Nothing was saved: please correct what is marked.", "未保存：请修改标出的内容。"),
    ("write decimals with a point, as 12.50", "小数请用小数点，例如 12.50"),
    ("each", "每件"),
    ("in all", "合计"),
    ("An offer: open the conversation to answer it.", "一个报价：打开对话查看并回复。"),
    ("Not shipped.", "尚未发货。"),
    ("photo", "照片"),
    ("Ships to (country code)", "可配送至（国家代码）"),
    ("Top-up pending", "充值处理中"),
    ("card ending", "尾号"),
    ("waiting for the card's provider to confirm; this updates by itself.", "正在等待发卡机构确认，本页会自动更新。"),
    ("The card's provider has answered: the top-up is settled (see the history).", "发卡机构已答复：充值已处理（见下方记录）。"),
    ("The books do not balance: the ledger needs an engineer before more money moves.", "账目不平：在继续资金流转之前，需要工程师检查账本。"),
    ("Each of the ledger's accounts (wallets, escrows, the platform's revenue and the payment provider's) must equal the sum of the transfers into and out of it, every order's escrow must hold what its state says, and in each currency the accounts must add up to zero: money is only ever moved, never created or lost.", "账本中的每个账户（钱包、担保账户、平台收入和支付渠道账户）都必须等于其转入与转出之和，每笔订单的担保金额必须与订单状态相符，且每种币种所有账户之和必须为零：资金只会流转，不会凭空产生或消失。"),
    ("Accounts", "账户"),
    ("Transfers", "转账笔数"),
    ("Money moved", "流转金额"),
    ("Sum of all balances", "所有余额之和"),
    ("Role revoked", "撤销角色"),
    ("Admin", "管理员"),
    ("Outcome", "结果"),
    ("Provider", "支付渠道"),
    ("Destination", "收款账户"),
    ("Revoke", "撤销"),
    ("Take this role away? The user loses its pages and powers at once.", "撤销此角色？该用户将立即失去相应的页面和权限。"),
    ("Show as a table", "以表格显示"),
    ("Sales (GMV)", "成交额 (GMV)"),
    ("Orders per product page view", "每次商品页浏览带来的订单数"),
    ("Any status", "全部状态"),
    ("Find by title", "按标题查找"),
    ("Find", "查找"),
    ("No products yet.", "还没有商品。"),
    ("More products", "更多商品"),
    ("Download a CSV template with two example rows", "下载 CSV 模板（含两行示例）"),
    ("All orders", "全部订单"),
    ("To ship", "待发货"),
    ("Order number", "订单号"),
    ("Open", "打开"),
    ("Your store has no order with this number.", "您的店铺没有这个订单号的订单。"),
    ("No orders here.", "这里没有订单。"),
    ("Older orders", "更早的订单"),
    ("to", "寄往"),
    ("ship by", "发货截止"),
    ("All orders to ship", "全部待发货订单"),
    ("and", "及另外"),
    ("more item", "件商品"),
    ("more items", "件商品"),
    ("Filters and sort", "筛选与排序"),
    ("Any currency", "任意币种"),
    ("Min", "最低"),
    ("Max", "最高"),
    ("Lowest price", "最低价格"),
    ("Highest price", "最高价格"),
    ("Seller trust", "卖家信用"),
    ("Any seller", "任意卖家"),
    ("Trust 60 and up", "信用 60 分以上"),
    ("Trust 80 and up", "信用 80 分以上"),
    ("Trust 90 and up", "信用 90 分以上"),
    ("This filter was not used:", "此筛选条件未生效："),
    ("Ships to takes a two-letter country code, such as DE or CN.", "配送地请填写两位国家代码，例如 DE 或 CN。"),
    ("Prices are numbers with a decimal point, such as 12.50.", "价格请填写数字，小数用小数点，例如 12.50。"),
    ("Choose a currency from the list.", "请从列表中选择币种。"),
    ("Choose a currency for the price range.", "按价格筛选时请先选择币种。"),
    ("for", "搜索"),
    ("all categories", "全部类目"),
    ("Next page", "下一页"),
    ("In stock", "有货"),
    ("Out of stock", "缺货"),
    ("Minimum order", "起订量"),
    ("units", "件"),
    ("Price tiers", "阶梯价格"),
    ("from", "起"),
    ("Variants", "规格"),
    ("Ships to", "配送至"),
    ("everywhere", "全球"),
    ("Sold by", "卖家"),
    ("Trust score", "信用分"),
    ("How the score is made", "信用分构成"),
    ("Reviews", "评价"),
    ("No reviews yet.", "暂无评价。"),
    ("Seller's reply", "卖家回复"),
    ("reviews", "条评价"),
    ("Verified", "已认证"),
    ("Not verified", "未认证"),
    ("Products", "商品"),
    ("days on Souk", "天"),
    ("Page not found.", "页面不存在。"),
    ("Go back", "返回"),
    (
        "The text contains a control character that cannot be saved; remove it and try again.",
        "文本中含有无法保存的控制字符，请删除后重试。",
    ),
    ("Something went wrong on our side.", "服务器出错了。"),
    ("The form expired; please try again.", "表单已过期，请重试。"),
    ("Signed in as", "已登录："),
    ("Language", "语言"),
    ("Sales volume", "成交量"),
    ("Ratings", "评分"),
    ("Detailed ratings", "详细评分"),
    ("Shipped on time", "准时发货"),
    ("Delivery speed", "配送速度"),
    ("Few disputes", "纠纷少"),
    ("Few refunds", "退款少"),
    ("Chat response", "响应速度"),
    ("Time on Souk", "经营时长"),
    ("A self-hostable marketplace with escrowed payments", "资金托管的自托管交易市场"),
    ("Cart", "购物车"),
    ("Your cart is empty.", "购物车是空的。"),
    ("Ship to (country code)", "收货国家（代码）"),
    ("Check out and pay", "结算并付款"),
    ("Wallet", "钱包"),
    ("Available", "可用"),
    ("In escrow for purchases", "购物托管中"),
    ("Incoming from sales", "销售待入账"),
    ("Top up", "充值"),
    ("Amount", "金额"),
    ("Currency", "币种"),
    ("Card number", "卡号"),
    (
        "Sandbox: 4242424242424242 succeeds, 4000000000000002 is declined.",
        "沙盒：4242424242424242 成功，4000000000000002 被拒。",
    ),
    ("My orders", "我的订单"),
    ("No orders yet.", "还没有订单。"),
    ("awaiting payment", "待付款"),
    ("paid", "已付款"),
    ("shipped", "已发货"),
    ("delivered", "已送达"),
    ("disputed", "纠纷中"),
    ("completed", "已完成"),
    ("cancelled", "已取消"),
    ("refunded", "已退款"),
    ("ordered", "已下单"),
    ("Order", "订单"),
    ("Tracking", "物流"),
    ("Pay from wallet", "用钱包付款"),
    ("Cancel", "取消"),
    ("Confirm receipt", "确认收货"),
    ("Extend confirmation", "延长收货"),
    ("Open a dispute", "发起纠纷"),
    ("Review", "评价"),
    ("Stars", "星级"),
    ("Post review", "发表评价"),
    ("Add to cart", "加入购物车"),
    ("Quantity", "数量"),
    ("Log in to buy", "登录后购买"),
    ("Flash sale", "限时秒杀"),
    ("Starts in", "距开始"),
    ("Ends in", "距结束"),
    ("Sold out", "已售罄"),
    ("Ended", "已结束"),
    ("left", "剩余"),
    ("limit per buyer", "每人限购"),
    ("Buy now and pay", "立即购买并付款"),
    ("Seller center", "卖家中心"),
    ("Open a store to sell.", "开店后即可销售。"),
    ("Orders to ship", "待发货订单"),
    ("Carrier", "快递公司"),
    ("UPS", "UPS"),
    ("USPS", "USPS"),
    ("FedEx", "FedEx"),
    ("DHL", "DHL"),
    ("SF Express", "顺丰速运"),
    ("China Post", "中国邮政"),
    ("Sandbox carrier", "沙盒快递"),
    ("Other carrier", "其他快递"),
    ("Tracking number", "运单号"),
    ("Ship", "发货"),
    ("Disputes to answer", "待处理纠纷"),
    ("Refund in full", "全额退款"),
    ("Offer a partial refund", "提出部分退款"),
    ("Ask for a return", "要求退货"),
    ("Reject, with evidence", "拒绝（附证据）"),
    ("Evidence", "证据"),
    ("Answer", "回复"),
    ("Operator console", "运营后台"),
    ("Ledger health", "账本状态"),
    ("The books balance.", "账目平衡。"),
    ("Disputes awaiting a decision", "待裁决纠纷"),
    ("Dispute", "纠纷"),
    ("Chat", "聊天"),
    ("Decide", "裁决"),
    ("Partial refund", "部分退款"),
    ("Release to the seller", "放款给卖家"),
    ("Reason", "理由"),
    ("Messages", "消息"),
    ("No conversations yet.", "还没有会话。"),
    ("About this product", "关于此商品"),
    ("typing…", "正在输入…"),
    ("Message", "消息内容"),
    ("Send", "发送"),
    ("Contact the seller", "联系卖家"),
    ("Analytics", "数据分析"),
    ("days", "天"),
    ("Orders", "订单"),
    ("Units", "件数"),
    ("Views", "浏览"),
    ("Conversion rate", "转化率"),
    ("Average order value", "客单价"),
    ("Disputes", "纠纷"),
    ("GMV per day", "每日成交额"),
    ("Orders per day", "每日订单"),
    ("Views per day", "每日浏览"),
    ("Top products", "热销商品"),
    ("Verifications to review", "待审核认证"),
    ("Approve", "通过"),
    ("Reject", "驳回"),
    ("Offer", "报价"),
    ("valid until", "有效期至"),
    ("Accept the offer", "接受报价"),
    ("RFQs", "询价"),
    ("Pay out", "提现"),
    ("Bank account", "银行账户"),
    ("History", "明细"),
    ("Import from CSV", "从 CSV 导入"),
    ("Customer messages", "客户消息"),
    ("Offers and quotes", "报价与询价"),
    ("Wallet and payouts", "钱包与提现"),
    ("Store page", "店铺主页"),
    ("Users", "用户"),
    ("Stores", "店铺"),
    ("Audit log", "审计日志"),
    ("Notifications", "通知"),
    ("Mark all read", "全部标为已读"),
    ("Nothing yet.", "暂无内容。"),
    ("When", "时间"),
    ("Who", "操作人"),
    ("Action", "操作"),
    ("Subject", "对象"),
    ("Name", "名称"),
    ("Roles", "角色"),
    ("Role", "角色"),
    ("Grant", "授予"),
    ("Store", "店铺"),
    ("Country", "国家"),
    ("Verification", "认证"),
    ("Opened", "开店"),
    ("All", "全部"),
    ("As a buyer", "作为买家"),
    ("My store's customers", "我的店铺客户"),
    ("Open a store", "开设店铺"),
    ("Store name", "店铺名称"),
    ("Address (lower-case letters, digits, hyphens)", "店铺地址（小写字母、数字、连字符）"),
    ("Country code", "国家代码"),
    ("Description", "描述"),
    ("Open the store", "开店"),
    ("Identity verification", "身份认证"),
    ("Verified.", "已认证。"),
    ("Submitted; an administrator will review it.", "已提交，管理员将进行审核。"),
    ("Rejected", "已驳回"),
    ("Legal name", "法定名称"),
    ("Document", "证件"),
    ("Business license", "营业执照"),
    ("National ID", "身份证"),
    ("Passport", "护照"),
    ("Document number", "证件号码"),
    ("Links to scans, one per line", "扫描件链接，每行一个"),
    ("Submit for verification", "提交认证"),
    ("Variant", "规格"),
    ("SKU code", "SKU 编码"),
    ("Options (color=red; size=M)", "选项（color=red; size=M）"),
    ("Price", "价格"),
    ("Units available", "可售数量"),
    ("Tier prices (10=9.50; 100=8.00)", "阶梯价（10=9.50; 100=8.00）"),
    ("Add a variant", "添加规格"),
    ("Title", "标题"),
    ("Category", "类目"),
    ("Ships to (country codes, or *)", "配送国家（代码，或 *）"),
    ("Minimum order quantity", "最小起订量"),
    ("Status", "状态"),
    ("Image links, one per line", "图片链接，每行一个"),
    ("Attributes (name: value, one per line)", "属性（名称: 值，每行一个）"),
    ("Prices in", "价格币种"),
    ("Save", "保存"),
    ("New product", "发布商品"),
    ("variants", "个规格"),
    ("View in the shop", "在商城中查看"),
    ("All products", "全部商品"),
    ("Columns", "列"),
    ("and optionally", "可选"),
    (
        "Rows matching an earlier import (by SKU, else title) are updated.",
        "与之前导入匹配的行（按 SKU，否则按标题）将被更新。",
    ),
    ("CSV file", "CSV 文件"),
    ("Upload", "上传"),
    ("Importing", "正在导入"),
    ("Created", "新建"),
    ("Updated", "更新"),
    ("Failed", "失败"),
    ("Line", "行"),
    ("Problem", "问题"),
    ("Import another file", "导入另一个文件"),
    ("Item", "商品"),
    ("Offers", "报价"),
    ("Make an offer", "发起报价"),
    ("Unit price", "单价"),
    ("Valid for (days)", "有效天数"),
    ("Send the offer", "发送报价"),
    ("Decline", "拒绝"),
    ("Counter-offer", "还价"),
    ("Send the counter-offer", "发送还价"),
    ("quotes", "个报价"),
    ("deadline", "截止"),
    ("Requests for quotation", "询价单"),
    ("Ask sellers for a quote", "向卖家询价"),
    ("What you need", "采购需求"),
    ("Details", "详情"),
    ("Target unit price (optional)", "目标单价（可选）"),
    ("Quotes taken for (days)", "接受报价天数"),
    ("Post the request", "发布询价"),
    ("target", "目标价"),
    ("The order", "订单"),
    ("Quotes", "报价"),
    ("Accept this quote", "接受此报价"),
    ("Withdraw the request", "撤回询价"),
    ("Quote", "报价"),
    ("Revise your quote (once)", "修改报价（仅一次）"),
    ("Lead time (days)", "交货期（天）"),
    ("Note", "备注"),
    ("Send the quote", "发送报价"),
    ("Requests for quotation you can quote", "您可以报价的询价单"),
    ("active", "在售"),
    ("draft", "草稿"),
    ("archived", "已下架"),
    ("open", "进行中"),
    ("accepted", "已接受"),
    ("declined", "已拒绝"),
    ("countered", "已还价"),
    ("superseded", "已替换"),
    ("expired", "已过期"),
    ("closed", "已截止"),
    ("awarded", "已成交"),
    ("by you", "由您发起"),
    ("by the buyer", "由买家发起"),
    ("Top-up", "充值"),
    ("Payout", "提现"),
    ("Payment", "付款"),
    ("Refund", "退款"),
    ("Sale proceeds", "货款到账"),
    ("Commission", "佣金"),
    ("Payment into the order's escrow", "转入订单托管"),
    ("Picked up", "已揽收"),
    ("In transit", "运输中"),
    ("Out for delivery", "派送中"),
    ("Delivered", "已送达"),
    ("Delivery problem", "配送异常"),
    ("Not received", "未收到货"),
    ("Not as described", "与描述不符"),
    ("Damaged", "商品损坏"),
    ("Wrong item", "发错货"),
    ("Other", "其他"),
    ("Awaiting the seller", "等待卖家处理"),
    ("Refund offered", "卖家已提出退款"),
    ("Return requested", "卖家要求退货"),
    ("Return shipped", "退货已寄出"),
    ("In mediation", "平台调解中"),
    ("Resolved", "已解决"),
    ("Buyer", "买家"),
    ("Seller", "卖家"),
    ("Mediator", "调解员"),
    ("Automatic rule", "系统规则"),
    ("Opened the dispute", "发起纠纷"),
    ("Return", "退货"),
    ("Decision", "裁决"),
    ("Submitted", "已报价"),
    ("Accepted", "已接受"),
    ("Not selected", "未被选中"),
    ("Role granted", "授予角色"),
    ("Verification approved", "认证通过"),
    ("Verification rejected", "认证驳回"),
    ("Dispute decided", "纠纷已裁决"),
    ("Payout made", "已提现"),
    ("This page cannot be opened that way.", "无法以这种方式打开此页面。"),
    ("Go to the home page", "返回首页"),
    ("That could not be done", "未能完成操作"),
    ("The wallet holds too little: top it up first.", "钱包余额不足，请先充值。"),
    ("Not enough units are in stock.", "库存不足。"),
    ("The order is not in a state that allows this.", "订单当前的状态不允许此操作。"),
    ("An account with this email exists already.", "该邮箱已注册账户。"),
    ("This store address is taken.", "该店铺地址已被使用。"),
    ("You have opened a store already.", "您已经开设了店铺。"),
    ("A variant with this code exists in your store already.", "您的店铺中已有相同编码的规格。"),
    ("You have reviewed this order already.", "您已经评价过该订单。"),
    ("A verification request is being reviewed already.", "已有认证申请正在审核中。"),
    ("Another sale of this variant runs at that time.", "该规格在此时间段已有其他促销。"),
    ("This offer can no longer be answered.", "该报价已无法回应。"),
    ("This request for quotes is closed.", "该询价已关闭。"),
    ("The card was declined.", "银行卡被拒绝。"),
    ("This form is being submitted.", "表单正在提交中。"),
    ("You may not do this.", "您无权执行此操作。"),
    ("This cannot be done now.", "现在无法执行此操作。"),
    ("Please check what you entered.", "请检查您填写的内容。"),
    ("First page", "第一页"),
    ("opened", "发起于"),
    ("The seller offers a partial refund of", "卖家提出部分退款"),
    ("The seller asks for the goods back; the refund follows once they arrive.", "卖家要求退货；货物寄回后即退款。"),
    ("back to the buyer", "退还买家"),
    ("Accept the partial refund", "接受部分退款"),
    ("Accept the partial refund? The dispute ends with it.", "接受部分退款？纠纷将就此结束。"),
    ("Ask for a mediator", "申请平台调解"),
    ("Ask Souk's mediators to decide?", "请 Souk 调解员裁决？"),
    ("The return arrived", "退货已收到"),
    ("Confirm the return arrived? The buyer is refunded.", "确认退货已收到？买家将获得退款。"),
    ("Send the return", "寄回商品"),
    ("Add to the record", "补充说明"),
    ("Add", "添加"),
    ("Released to the seller", "已放款给卖家"),
    ("Refunded in full", "已全额退款"),
    ("Partly refunded", "已部分退款"),
    (
        "Confirm receipt? The payment goes to the seller and cannot come back.",
        "确认收货？货款将支付给卖家，且无法退回。",
    ),
    ("Cancel this order? A paid order is refunded to your wallet.", "取消此订单？已付款的订单将退款至您的钱包。"),
    (
        "Pay this amount out to the bank account? It leaves your wallet now.",
        "将此金额提现到银行账户？款项将立即从钱包转出。",
    ),
    ("Accept the offer? An order at its price is placed at once.", "接受此报价？将立即按此价格下单。"),
    (
        "Accept this quote? An order at its price is placed at once; the other quotes are declined.",
        "接受此报价？将立即按此价格下单，其他报价将被拒绝。",
    ),
    ("variant", "个规格"),
    ("unit", "件"),
    ("review", "条评价"),
    ("result", "个结果"),
    ("Flash sales now", "正在进行的秒杀"),
    ("Flash sales", "秒杀活动"),
    ("No flash sale is scheduled.", "暂无秒杀活动。"),
    ("sold", "已售"),
    ("Schedule a flash sale", "安排秒杀"),
    ("Sale price", "秒杀价"),
    ("Units on sale", "秒杀数量"),
    ("Most units per buyer", "每人限购"),
    ("Starts (UTC)", "开始时间（UTC）"),
    ("Lasts (hours, at most 168)", "持续时间（小时，最多168）"),
    ("Schedule", "安排"),
    ("Scheduled", "未开始"),
    ("Live now", "进行中"),
    (
        "Ordered. What the wallet covers is paid; the rest waits for a top-up.",
        "已下单。钱包余额足够的订单已付款，其余订单等待充值后支付。",
    ),
    ("Added to the cart.", "已加入购物车。"),
    ("Top-up accepted: the money arrives once the card's provider confirms.", "充值已受理：支付机构确认后即到账。"),
    ("Paid out: the money is on its way to the bank account.", "已提现：款项正在转入银行账户。"),
    ("Your store is open.", "您的店铺已开张。"),
    ("Submitted: an administrator will review it.", "已提交：管理员将进行审核。"),
    ("Flash sale scheduled.", "秒杀活动已安排。"),
    ("Your request for quotes is posted.", "您的询价已发布。"),
    ("All marked read.", "已全部标为已读。"),
    ("Saved.", "已保存。"),
    ("Shipped: the buyer is told.", "已发货：已通知买家。"),
    ("Your answer went to the buyer.", "您的答复已发送给买家。"),
    ("Decided: both parties are told.", "已裁决：已通知双方。"),
    ("Partial refund accepted.", "已接受部分退款。"),
    ("A mediator will decide.", "将由调解员裁决。"),
    ("Return sent: the refund follows once it arrives.", "退货已寄出：货物送达后即退款。"),
    ("Return received: the buyer is refunded.", "已收到退货：已向买家退款。"),
    ("Added to the record.", "已添加到记录。"),
    (
        "Paid: the money is held in escrow until you confirm receipt.",
        "已付款：款项由平台托管，确认收货后再支付给卖家。",
    ),
    ("Receipt confirmed: the seller is paid.", "已确认收货：货款已支付给卖家。"),
    ("Cancelled.", "已取消。"),
    ("The confirmation window is extended.", "确认收货期限已延长。"),
    ("Thank you: your review is posted.", "感谢您的评价，已发布。"),
    ("Dispute opened: the seller is asked to answer.", "纠纷已发起：已请卖家答复。"),
    ("You can ask for a mediator from", "可申请平台调解的时间："),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        assert_eq!(Lang::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9,zh;q=0.8"), Lang::En);
        assert_eq!(Lang::from_accept_language("fr-FR,zh-TW;q=0.7"), Lang::Zh);
        assert_eq!(Lang::from_accept_language("fr, de"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::En);
    }

    /// Every `.t("...")` in the pages' source has its Chinese.
    #[test]
    fn every_text_on_the_pages_is_translated() {
        for source in [
            include_str!("mod.rs"),
            include_str!("account.rs"),
            include_str!("two_factor.rs"),
            include_str!("pages.rs"),
            include_str!("buying.rs"),
            include_str!("work.rs"),
            include_str!("chat.rs"),
            include_str!("selling.rs"),
            include_str!("deals.rs"),
            include_str!("flash.rs"),
            include_str!("forms.rs"),
        ] {
            for piece in source.split(".t(\"").skip(1) {
                let key = piece.split('"').next().unwrap_or("");
                assert!(ZH.iter().any(|(en, _)| *en == key), "no Chinese for {key:?}");
            }
        }
    }

    #[test]
    fn every_carrier_has_a_name_in_both_languages() {
        for code in souk_domain::shipping::CARRIERS {
            let name = crate::web::work::carrier_label(code);
            assert!(ZH.iter().any(|(en, _)| *en == name), "no Chinese for {code}'s name {name:?}");
        }
        assert_eq!(Lang::Zh.t(crate::web::work::carrier_label("sf_express")), "顺丰速运");
    }

    #[test]
    fn every_notification_is_translated() {
        for (t, zh) in souk_domain::notify::TEMPLATES {
            assert!(zh != t && souk_domain::notify::in_language(t, true) == zh, "no Chinese for {t:?}");
            assert_eq!(t.contains("{n}"), zh.contains("{n}"), "{t:?}");
        }
    }

    #[test]
    fn every_code_shown_has_words_in_both_languages() {
        for (code, en) in CODES {
            assert!(ZH.iter().any(|(key, _)| key == en), "no Chinese for {code}'s words {en:?}");
        }
        let kinds = ["top_up", "payout", "payment", "refund", "release", "commission", "allocation"];
        let events = ["picked_up", "in_transit", "out_for_delivery", "delivered", "exception"];
        for code in kinds.into_iter().chain(events) {
            assert!(code_label(code).is_some(), "{code}");
        }
        assert_eq!(Lang::Zh.t(code_label("not_received").unwrap()), "未收到货");
    }

    #[test]
    fn what_the_rules_expect_reads_in_chinese() {
        assert_eq!(refusal_zh("a whole number").as_deref(), Some("请填写整数"));
        assert_eq!(refusal_zh("3 to 40 characters").as_deref(), Some("3 到 40 个字符"));
        assert_eq!(refusal_zh("must be at most 2000 characters").as_deref(), Some("最多 2000 个字符"));
        assert_eq!(refusal_zh("must be between 1 and 1000000").as_deref(), Some("须在 1 到 1000000 之间"));
        assert_eq!(
            refusal_zh("write decimals with a point: '12.5', not '12,5'").as_deref(),
            Some("小数请用小数点，例如 12.50")
        );
        assert_eq!(refusal_zh("something new"), None, "unknown words fall back to the refusal's kind");
    }

    #[test]
    fn every_key_is_translated_once() {
        let mut keys: Vec<&str> = ZH.iter().map(|(en, _)| *en).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "a key is listed twice");
        assert_eq!(Lang::Zh.t("Search"), "搜索");
        assert_eq!(Lang::En.t("Search"), "Search");
    }
}
