//! The emails' words: one template per kind of message, in text and HTML,
//! in the seven locales a user may have (en, fr, de, es, it, nl, ja).
//!
//! Templates are Rust, not files read at run time: a missing translation is
//! a compile error, not an email with a hole in it. Every paragraph of the
//! HTML part is escaped after its values are filled in.

use chrono::NaiveDateTime;
use serde::Deserialize;
use url::Url;

/// A rendered email.
#[derive(Debug)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why a message cannot be rendered (it is dead-lettered: no retry helps).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no template named {0:?}")]
    UnknownTemplate(String),
    #[error("the payload does not fit the template: {0}")]
    Payload(#[from] serde_json::Error),
}

/// The reset email's payload (sealed in the outbox row).
#[derive(Deserialize)]
struct ResetPayload {
    name: String,
    delivery_kind: crate::db::types::Delivery,
    secret: String,
    expires_at: NaiveDateTime,
}

/// The payload of the email that follows a recovery key's registration.
#[derive(Deserialize)]
struct RecoveryKeyPayload {
    name: String,
    set_at: NaiveDateTime,
}

/// The payload of the email that follows a change of master password.
#[derive(Deserialize)]
struct ChangedPayload {
    name: String,
    changed_at: NaiveDateTime,
}

/// The payload of the email that asks an admin to approve a reset.
#[derive(Deserialize)]
struct ApprovalPayload {
    name: String,
    requester: String,
    user_name: String,
    user_email: String,
    reset_id: String,
    required_by: Vec<String>,
    reason: Option<String>,
    ticket: Option<String>,
    expires_at: NaiveDateTime,
}

/// The payload of an invitation (sealed in the outbox row: it carries the
/// link's token).
#[derive(Deserialize)]
struct InvitationPayload {
    name: String,
    company: String,
    secret: String,
    expires_at: NaiveDateTime,
}

/// The payload of an admin's invitation (sealed in the outbox row: it
/// carries the link's token).
#[derive(Deserialize)]
struct AdminInvitationPayload {
    name: String,
    partner: String,
    partner_id: String,
    email: String,
    role: String,
    secret: String,
    expires_at: NaiveDateTime,
}

/// The words of one locale.
struct Words {
    hello: &'static str,
    reset_subject: &'static str,
    reset_intro: &'static str,
    reset_password: &'static str,
    reset_link: &'static str,
    reset_expires: &'static str,
    not_you: &'static str,
    changed_subject: &'static str,
    changed_body: &'static str,
    recovery_subject: &'static str,
    recovery_body: &'static str,
    approval_subject: &'static str,
    approval_body: &'static str,
    approval_why: &'static str,
    approval_reason: &'static str,
    approval_ticket: &'static str,
    approval_how: &'static str,
    approval_expires: &'static str,
    invitation_subject: &'static str,
    invitation_body: &'static str,
    invitation_link: &'static str,
    invitation_expires: &'static str,
    invitation_ignore: &'static str,
    admin_invitation_subject: &'static str,
    admin_invitation_body: &'static str,
    admin_invitation_link: &'static str,
    footer: &'static str,
}

const EN: Words = Words {
    hello: "Hello {name},",
    reset_subject: "Your master password was reset",
    reset_intro: "Your administrator reset the master password of your password manager account. The items of your vault were removed; company items that your company backed up are kept by your company.",
    reset_password: "Sign in with this temporary master password, then choose a new one:",
    reset_link: "Open this link to choose a new master password:",
    reset_expires: "It works once, until {expires}.",
    not_you: "If you did not expect this, contact your administrator at once.",
    changed_subject: "Your master password was changed",
    changed_body: "The master password of your password manager account was changed on {at}.",
    recovery_subject: "A recovery key was set up for your account",
    recovery_body: "A recovery key was registered for your password manager account on {at}. With it you can set a new master password without losing your items.",
    approval_subject: "A master password reset awaits your approval",
    approval_body: "{requester} asked to reset the master password of {user} <{email}>. A policy asks a second admin to approve it first; until then nothing is deleted and the user is told nothing.",
    approval_why: "Policies that ask for approval: {policies}",
    approval_reason: "Reason: {reason}",
    approval_ticket: "Ticket: {ticket}",
    approval_how: "Approve or reject it in the partner portal, or with custodianctl:",
    approval_expires: "Unless someone decides, the request expires on {expires}.",
    invitation_subject: "You are invited to your company's password manager",
    invitation_body: "{company} set up a password manager account for you.",
    invitation_link: "Open this link to choose your master password. Only you will know it: nobody, your administrator included, can read your vault.",
    invitation_expires: "The link works once, until {expires}.",
    invitation_ignore: "If you did not expect this invitation, ignore this email; without the link nothing happens.",
    admin_invitation_subject: "You are invited to a partner portal",
    admin_invitation_body: "{partner} added you to its partner portal as {role}. You will sign in with {email} and the partner id {partner_id}.",
    admin_invitation_link: "Open this link to choose your password:",
    footer: "This message was sent automatically; please do not reply to it.",
};

const FR: Words = Words {
    hello: "Bonjour {name},",
    reset_subject: "Votre mot de passe maître a été réinitialisé",
    reset_intro: "Votre administrateur a réinitialisé le mot de passe maître de votre compte de gestionnaire de mots de passe. Les éléments de votre coffre ont été supprimés ; les éléments d'entreprise sauvegardés par votre entreprise sont conservés par celle-ci.",
    reset_password: "Connectez-vous avec ce mot de passe maître temporaire, puis choisissez-en un nouveau :",
    reset_link: "Ouvrez ce lien pour choisir un nouveau mot de passe maître :",
    reset_expires: "Il ne sert qu'une fois, jusqu'au {expires}.",
    not_you: "Si vous ne vous y attendiez pas, contactez immédiatement votre administrateur.",
    changed_subject: "Votre mot de passe maître a été modifié",
    changed_body: "Le mot de passe maître de votre compte de gestionnaire de mots de passe a été modifié le {at}.",
    recovery_subject: "Une clé de récupération a été configurée pour votre compte",
    recovery_body: "Une clé de récupération a été enregistrée pour votre compte de gestionnaire de mots de passe le {at}. Elle vous permet de choisir un nouveau mot de passe maître sans perdre vos éléments.",
    approval_subject: "Une réinitialisation de mot de passe maître attend votre approbation",
    approval_body: "{requester} a demandé la réinitialisation du mot de passe maître de {user} <{email}>. Une règle exige qu'un second administrateur l'approuve d'abord ; d'ici là, rien n'est supprimé et l'utilisateur n'est pas prévenu.",
    approval_why: "Règles qui demandent une approbation : {policies}",
    approval_reason: "Motif : {reason}",
    approval_ticket: "Ticket : {ticket}",
    approval_how: "Approuvez-la ou refusez-la dans le portail partenaire, ou avec custodianctl :",
    approval_expires: "Sans décision, la demande expire le {expires}.",
    invitation_subject: "Vous êtes invité au gestionnaire de mots de passe de votre entreprise",
    invitation_body: "{company} vous a créé un compte de gestionnaire de mots de passe.",
    invitation_link: "Ouvrez ce lien pour choisir votre mot de passe maître. Vous seul le connaîtrez : personne, pas même votre administrateur, ne peut lire votre coffre.",
    invitation_expires: "Le lien ne sert qu'une fois, jusqu'au {expires}.",
    invitation_ignore: "Si vous n'attendiez pas cette invitation, ignorez ce message ; sans le lien, rien ne se passe.",
    admin_invitation_subject: "Vous êtes invité sur un portail partenaire",
    admin_invitation_body: "{partner} vous a ajouté à son portail partenaire avec le rôle {role}. Vous vous connecterez avec {email} et l'identifiant de partenaire {partner_id}.",
    admin_invitation_link: "Ouvrez ce lien pour choisir votre mot de passe :",
    footer: "Ce message a été envoyé automatiquement ; merci de ne pas y répondre.",
};

const DE: Words = Words {
    hello: "Hallo {name},",
    reset_subject: "Ihr Master-Passwort wurde zurückgesetzt",
    reset_intro: "Ihr Administrator hat das Master-Passwort Ihres Passwort-Manager-Kontos zurückgesetzt. Die Einträge Ihres Tresors wurden entfernt; Firmeneinträge, die Ihr Unternehmen gesichert hat, bleiben dort erhalten.",
    reset_password: "Melden Sie sich mit diesem temporären Master-Passwort an und wählen Sie dann ein neues:",
    reset_link: "Öffnen Sie diesen Link, um ein neues Master-Passwort zu wählen:",
    reset_expires: "Nur einmal gültig, bis {expires}.",
    not_you: "Falls Sie das nicht erwartet haben, wenden Sie sich sofort an Ihren Administrator.",
    changed_subject: "Ihr Master-Passwort wurde geändert",
    changed_body: "Das Master-Passwort Ihres Passwort-Manager-Kontos wurde am {at} geändert.",
    recovery_subject: "Für Ihr Konto wurde ein Wiederherstellungsschlüssel eingerichtet",
    recovery_body: "Für Ihr Passwort-Manager-Konto wurde am {at} ein Wiederherstellungsschlüssel registriert. Damit können Sie ein neues Master-Passwort festlegen, ohne Ihre Einträge zu verlieren.",
    approval_subject: "Eine Zurücksetzung des Master-Passworts wartet auf Ihre Freigabe",
    approval_body: "{requester} möchte das Master-Passwort von {user} <{email}> zurücksetzen. Eine Richtlinie verlangt, dass ein zweiter Administrator dies zuerst freigibt; bis dahin wird nichts gelöscht und der Benutzer erfährt nichts.",
    approval_why: "Richtlinien, die eine Freigabe verlangen: {policies}",
    approval_reason: "Grund: {reason}",
    approval_ticket: "Ticket: {ticket}",
    approval_how: "Geben Sie sie im Partnerportal frei oder lehnen Sie sie ab, oder mit custodianctl:",
    approval_expires: "Ohne Entscheidung verfällt die Anfrage am {expires}.",
    invitation_subject: "Sie sind zum Passwort-Manager Ihres Unternehmens eingeladen",
    invitation_body: "{company} hat ein Passwort-Manager-Konto für Sie eingerichtet.",
    invitation_link: "Öffnen Sie diesen Link, um Ihr Master-Passwort zu wählen. Nur Sie kennen es: Niemand, auch Ihr Administrator nicht, kann Ihren Tresor lesen.",
    invitation_expires: "Der Link ist nur einmal gültig, bis {expires}.",
    invitation_ignore: "Falls Sie diese Einladung nicht erwartet haben, ignorieren Sie diese E-Mail; ohne den Link geschieht nichts.",
    admin_invitation_subject: "Sie sind zu einem Partnerportal eingeladen",
    admin_invitation_body: "{partner} hat Sie mit der Rolle {role} zu seinem Partnerportal hinzugefügt. Sie melden sich mit {email} und der Partner-ID {partner_id} an.",
    admin_invitation_link: "Öffnen Sie diesen Link, um Ihr Passwort festzulegen:",
    footer: "Diese Nachricht wurde automatisch gesendet; bitte antworten Sie nicht darauf.",
};

const ES: Words = Words {
    hello: "Hola, {name}:",
    reset_subject: "Se ha restablecido su contraseña maestra",
    reset_intro: "Su administrador ha restablecido la contraseña maestra de su cuenta del gestor de contraseñas. Los elementos de su bóveda se han eliminado; los elementos de empresa que su empresa respaldó los conserva su empresa.",
    reset_password: "Inicie sesión con esta contraseña maestra temporal y después elija una nueva:",
    reset_link: "Abra este enlace para elegir una nueva contraseña maestra:",
    reset_expires: "Sirve una sola vez, hasta el {expires}.",
    not_you: "Si no esperaba este mensaje, póngase en contacto con su administrador de inmediato.",
    changed_subject: "Se ha cambiado su contraseña maestra",
    changed_body: "La contraseña maestra de su cuenta del gestor de contraseñas se cambió el {at}.",
    recovery_subject: "Se ha configurado una clave de recuperación para su cuenta",
    recovery_body: "Se registró una clave de recuperación para su cuenta del gestor de contraseñas el {at}. Con ella puede establecer una nueva contraseña maestra sin perder sus elementos.",
    approval_subject: "Un restablecimiento de contraseña maestra espera su aprobación",
    approval_body: "{requester} ha pedido restablecer la contraseña maestra de {user} <{email}>. Una política exige que otro administrador lo apruebe antes; hasta entonces no se elimina nada y no se avisa al usuario.",
    approval_why: "Políticas que piden aprobación: {policies}",
    approval_reason: "Motivo: {reason}",
    approval_ticket: "Ticket: {ticket}",
    approval_how: "Apruébelo o recházelo en el portal de socios, o con custodianctl:",
    approval_expires: "Si nadie decide, la solicitud caduca el {expires}.",
    invitation_subject: "Le invitamos al gestor de contraseñas de su empresa",
    invitation_body: "{company} le ha creado una cuenta del gestor de contraseñas.",
    invitation_link: "Abra este enlace para elegir su contraseña maestra. Solo usted la conocerá: nadie, ni siquiera su administrador, puede leer su bóveda.",
    invitation_expires: "El enlace sirve una sola vez, hasta el {expires}.",
    invitation_ignore: "Si no esperaba esta invitación, ignore este mensaje; sin el enlace no ocurre nada.",
    admin_invitation_subject: "Está invitado a un portal de socios",
    admin_invitation_body: "{partner} le añadió a su portal de socios con el rol {role}. Iniciará sesión con {email} y el identificador de socio {partner_id}.",
    admin_invitation_link: "Abra este enlace para elegir su contraseña:",
    footer: "Este mensaje se envió automáticamente; no responda a este mensaje.",
};

const IT: Words = Words {
    hello: "Ciao {name},",
    reset_subject: "La tua password principale è stata reimpostata",
    reset_intro: "Il tuo amministratore ha reimpostato la password principale del tuo account del gestore di password. Gli elementi della tua cassaforte sono stati rimossi; gli elementi aziendali di cui la tua azienda ha un backup restano alla tua azienda.",
    reset_password: "Accedi con questa password principale temporanea, poi scegline una nuova:",
    reset_link: "Apri questo link per scegliere una nuova password principale:",
    reset_expires: "Vale una sola volta, fino al {expires}.",
    not_you: "Se non te lo aspettavi, contatta subito il tuo amministratore.",
    changed_subject: "La tua password principale è stata modificata",
    changed_body: "La password principale del tuo account del gestore di password è stata modificata il {at}.",
    recovery_subject: "È stata configurata una chiave di recupero per il tuo account",
    recovery_body: "Il {at} è stata registrata una chiave di recupero per il tuo account del gestore di password. Con essa puoi impostare una nuova password principale senza perdere i tuoi elementi.",
    approval_subject: "Una reimpostazione della password principale attende la tua approvazione",
    approval_body: "{requester} ha chiesto di reimpostare la password principale di {user} <{email}>. Una regola richiede che un secondo amministratore la approvi prima; fino ad allora non viene eliminato nulla e l'utente non viene avvisato.",
    approval_why: "Regole che chiedono l'approvazione: {policies}",
    approval_reason: "Motivo: {reason}",
    approval_ticket: "Ticket: {ticket}",
    approval_how: "Approvala o rifiutala nel portale partner, oppure con custodianctl:",
    approval_expires: "Senza una decisione, la richiesta scade il {expires}.",
    invitation_subject: "Sei invitato al gestore di password della tua azienda",
    invitation_body: "{company} ha creato per te un account del gestore di password.",
    invitation_link: "Apri questo link per scegliere la tua password principale. La conoscerai solo tu: nessuno, nemmeno il tuo amministratore, può leggere la tua cassaforte.",
    invitation_expires: "Il link vale una sola volta, fino al {expires}.",
    invitation_ignore: "Se non ti aspettavi questo invito, ignora questa email; senza il link non succede nulla.",
    admin_invitation_subject: "Sei invitato a un portale partner",
    admin_invitation_body: "{partner} ti ha aggiunto al suo portale partner con il ruolo {role}. Accederai con {email} e l'identificativo partner {partner_id}.",
    admin_invitation_link: "Apri questo link per scegliere la tua password:",
    footer: "Questo messaggio è stato inviato automaticamente; non rispondere.",
};

const NL: Words = Words {
    hello: "Hallo {name},",
    reset_subject: "Uw hoofdwachtwoord is opnieuw ingesteld",
    reset_intro: "Uw beheerder heeft het hoofdwachtwoord van uw wachtwoordmanageraccount opnieuw ingesteld. De items in uw kluis zijn verwijderd; bedrijfsitems waarvan uw bedrijf een back-up heeft, blijven bij uw bedrijf bewaard.",
    reset_password: "Meld u aan met dit tijdelijke hoofdwachtwoord en kies daarna een nieuw hoofdwachtwoord:",
    reset_link: "Open deze link om een nieuw hoofdwachtwoord te kiezen:",
    reset_expires: "Het werkt één keer, tot {expires}.",
    not_you: "Als u dit niet verwachtte, neem dan direct contact op met uw beheerder.",
    changed_subject: "Uw hoofdwachtwoord is gewijzigd",
    changed_body: "Het hoofdwachtwoord van uw wachtwoordmanageraccount is gewijzigd op {at}.",
    recovery_subject: "Er is een herstelsleutel ingesteld voor uw account",
    recovery_body: "Op {at} is een herstelsleutel geregistreerd voor uw wachtwoordmanageraccount. Daarmee kunt u een nieuw hoofdwachtwoord instellen zonder uw items te verliezen.",
    approval_subject: "Een reset van een hoofdwachtwoord wacht op uw goedkeuring",
    approval_body: "{requester} heeft gevraagd het hoofdwachtwoord van {user} <{email}> opnieuw in te stellen. Een beleidsregel vraagt eerst de goedkeuring van een tweede beheerder; tot dan wordt niets verwijderd en hoort de gebruiker niets.",
    approval_why: "Beleidsregels die goedkeuring vragen: {policies}",
    approval_reason: "Reden: {reason}",
    approval_ticket: "Ticket: {ticket}",
    approval_how: "Keur het goed of af in het partnerportaal, of met custodianctl:",
    approval_expires: "Zonder beslissing vervalt het verzoek op {expires}.",
    invitation_subject: "U bent uitgenodigd voor de wachtwoordmanager van uw bedrijf",
    invitation_body: "{company} heeft een wachtwoordmanageraccount voor u aangemaakt.",
    invitation_link: "Open deze link om uw hoofdwachtwoord te kiezen. Alleen u kent het: niemand, ook uw beheerder niet, kan uw kluis lezen.",
    invitation_expires: "De link werkt één keer, tot {expires}.",
    invitation_ignore: "Als u deze uitnodiging niet verwachtte, negeer dan deze e-mail; zonder de link gebeurt er niets.",
    admin_invitation_subject: "U bent uitgenodigd voor een partnerportaal",
    admin_invitation_body: "{partner} heeft u aan zijn partnerportaal toegevoegd met de rol {role}. U meldt zich aan met {email} en de partner-id {partner_id}.",
    admin_invitation_link: "Open deze link om uw wachtwoord te kiezen:",
    footer: "Dit bericht is automatisch verzonden; beantwoord het niet.",
};

const JA: Words = Words {
    hello: "{name} 様",
    reset_subject: "マスターパスワードがリセットされました",
    reset_intro: "管理者があなたのパスワードマネージャーアカウントのマスターパスワードをリセットしました。保管庫のアイテムは削除されました。会社がバックアップした会社のアイテムは会社側で保持されます。",
    reset_password: "次の一時マスターパスワードでサインインし、新しいマスターパスワードを設定してください：",
    reset_link: "次のリンクを開いて、新しいマスターパスワードを設定してください：",
    reset_expires: "使用できるのは1回のみで、有効期限は {expires} です。",
    not_you: "心当たりがない場合は、すぐに管理者に連絡してください。",
    changed_subject: "マスターパスワードが変更されました",
    changed_body: "パスワードマネージャーアカウントのマスターパスワードが {at} に変更されました。",
    recovery_subject: "アカウントに回復キーが設定されました",
    recovery_body: "{at} に、パスワードマネージャーアカウントの回復キーが登録されました。回復キーがあれば、アイテムを失わずに新しいマスターパスワードを設定できます。",
    approval_subject: "マスターパスワードのリセットが承認を待っています",
    approval_body: "{requester} が {user} <{email}> のマスターパスワードのリセットを依頼しました。ポリシーにより、先に別の管理者の承認が必要です。承認されるまで何も削除されず、ユーザーにも通知されません。",
    approval_why: "承認を求めるポリシー：{policies}",
    approval_reason: "理由：{reason}",
    approval_ticket: "チケット：{ticket}",
    approval_how: "パートナーポータル、または custodianctl で承認または却下してください：",
    approval_expires: "決定がない場合、この依頼は {expires} に失効します。",
    invitation_subject: "会社のパスワードマネージャーへの招待",
    invitation_body: "{company} があなたのパスワードマネージャーアカウントを作成しました。",
    invitation_link: "次のリンクを開いて、マスターパスワードを設定してください。マスターパスワードを知るのはあなただけです。管理者を含め、誰もあなたの保管庫を読むことはできません。",
    invitation_expires: "リンクは1回のみ、{expires} まで使用できます。",
    invitation_ignore: "この招待に心当たりがない場合は、このメールを無視してください。リンクを開かない限り何も起こりません。",
    admin_invitation_subject: "パートナーポータルに招待されました",
    admin_invitation_body: "{partner} があなたを {role} としてパートナーポータルに追加しました。{email} とパートナー ID {partner_id} でサインインします。",
    admin_invitation_link: "次のリンクを開いてパスワードを設定してください:",
    footer: "このメッセージは自動送信されています。返信しないでください。",
};

/// The locales emails are written in.
pub const LOCALES: [&str; 7] = ["en", "fr", "de", "es", "it", "nl", "ja"];

fn words(locale: &str) -> &'static Words {
    match locale {
        "fr" => &FR,
        "de" => &DE,
        "es" => &ES,
        "it" => &IT,
        "nl" => &NL,
        "ja" => &JA,
        _ => &EN,
    }
}

/// The page of the webapp that finishes a reset; the token travels in the
/// link's fragment, which browsers never send to a server or a referrer.
pub const WEBAPP_RESET_PAGE: &str = "reset-master-password";

/// The page of the webapp where an invited user chooses their first master
/// password; the token travels in the fragment, as a reset's does.
pub const WEBAPP_INVITATION_PAGE: &str = "accept-invitation";

/// The page of the partner portal where an invited admin chooses their
/// password; the token travels in the fragment.
pub const PORTAL_INVITATION_PAGE: &str = "accept-admin-invitation";

/// The link an invited admin opens to choose their password.
pub fn admin_invitation_link(portal: &Url, token: &str) -> Url {
    webapp_link(portal, PORTAL_INVITATION_PAGE, token)
}

/// The link a webapp user opens to finish a reset.
pub fn reset_link(webapp: &Url, token: &str) -> Url {
    webapp_link(webapp, WEBAPP_RESET_PAGE, token)
}

/// The link an invited user opens to choose their master password.
pub fn invitation_link(webapp: &Url, token: &str) -> Url {
    webapp_link(webapp, WEBAPP_INVITATION_PAGE, token)
}

/// The webapp's `page`, under its base, with `token` in the fragment.
fn webapp_link(webapp: &Url, page: &str, token: &str) -> Url {
    let mut base = webapp.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    let mut link = base.join(page).expect("a relative path joins");
    link.set_fragment(Some(&format!("token={token}")));
    link
}

fn when(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Fills `{key}` placeholders (text; the HTML part escapes the result).
fn fill(words: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(words.to_owned(), |acc, (key, value)| {
        acc.replace(&format!("{{{key}}}"), value)
    })
}

/// A message's parts before they become text and HTML.
enum Block {
    Paragraph(String),
    /// A secret to copy, set apart.
    Code(String),
    Link(Url),
}

fn assemble(locale: &str, subject: &str, blocks: &[Block]) -> Rendered {
    let mut text = String::new();
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"{locale}\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n<body style=\"font-family: sans-serif; line-height: 1.5\">\n",
        escape(subject)
    );
    for block in blocks {
        match block {
            Block::Paragraph(words) => {
                text.push_str(words);
                html.push_str(&format!("<p>{}</p>\n", escape(words)));
            }
            Block::Code(code) => {
                text.push_str("    ");
                text.push_str(code);
                html.push_str(&format!(
                    "<p><code style=\"font-size: 1.25em; letter-spacing: 0.05em\">{}</code></p>\n",
                    escape(code)
                ));
            }
            Block::Link(url) => {
                text.push_str(url.as_str());
                html.push_str(&format!(
                    "<p><a href=\"{0}\">{0}</a></p>\n",
                    escape(url.as_str())
                ));
            }
        }
        text.push_str("\n\n");
    }
    html.push_str("</body>\n</html>\n");
    Rendered {
        subject: subject.to_owned(),
        text,
        html,
    }
}

/// Where the links of emails point.
#[derive(Debug, Clone)]
pub struct Links {
    /// The end users' webapp: resets' and users' invitations' links.
    pub webapp: Url,
    /// The partner portal: admins' invitations' links.
    pub portal: Url,
}

/// Renders `template` in `locale` from its payload, its links under `links`.
pub fn render(
    template: &str,
    locale: &str,
    payload: &[u8],
    links: &Links,
) -> Result<Rendered, RenderError> {
    let webapp = &links.webapp;
    let w = words(locale);
    match template {
        "master_password_reset" => {
            let p: ResetPayload = serde_json::from_slice(payload)?;
            let expires = when(p.expires_at);
            let secret = if p.delivery_kind == crate::db::types::Delivery::Link {
                vec![
                    Block::Paragraph(w.reset_link.into()),
                    Block::Link(reset_link(webapp, &p.secret)),
                ]
            } else {
                vec![
                    Block::Paragraph(w.reset_password.into()),
                    Block::Code(p.secret),
                ]
            };
            let mut blocks = vec![
                Block::Paragraph(fill(w.hello, &[("name", &p.name)])),
                Block::Paragraph(w.reset_intro.into()),
            ];
            blocks.extend(secret);
            blocks.extend([
                Block::Paragraph(fill(w.reset_expires, &[("expires", &expires)])),
                Block::Paragraph(w.not_you.into()),
                Block::Paragraph(w.footer.into()),
            ]);
            Ok(assemble(locale, w.reset_subject, &blocks))
        }
        "master_password_changed" => {
            let p: ChangedPayload = serde_json::from_slice(payload)?;
            let at = when(p.changed_at);
            let blocks = [
                Block::Paragraph(fill(w.hello, &[("name", &p.name)])),
                Block::Paragraph(fill(w.changed_body, &[("at", &at)])),
                Block::Paragraph(w.not_you.into()),
                Block::Paragraph(w.footer.into()),
            ];
            Ok(assemble(locale, w.changed_subject, &blocks))
        }
        "recovery_key_set" => {
            let p: RecoveryKeyPayload = serde_json::from_slice(payload)?;
            let at = when(p.set_at);
            let blocks = [
                Block::Paragraph(fill(w.hello, &[("name", &p.name)])),
                Block::Paragraph(fill(w.recovery_body, &[("at", &at)])),
                Block::Paragraph(w.not_you.into()),
                Block::Paragraph(w.footer.into()),
            ];
            Ok(assemble(locale, w.recovery_subject, &blocks))
        }
        "reset_approval_requested" => {
            let p: ApprovalPayload = serde_json::from_slice(payload)?;
            let expires = when(p.expires_at);
            let mut blocks = vec![
                Block::Paragraph(fill(w.hello, &[("name", &p.name)])),
                Block::Paragraph(fill(
                    w.approval_body,
                    &[
                        ("requester", &p.requester),
                        ("user", &p.user_name),
                        ("email", &p.user_email),
                    ],
                )),
                Block::Paragraph(fill(
                    w.approval_why,
                    &[("policies", &p.required_by.join(", "))],
                )),
            ];
            if let Some(reason) = &p.reason {
                blocks.push(Block::Paragraph(fill(
                    w.approval_reason,
                    &[("reason", reason)],
                )));
            }
            if let Some(ticket) = &p.ticket {
                blocks.push(Block::Paragraph(fill(
                    w.approval_ticket,
                    &[("ticket", ticket)],
                )));
            }
            blocks.extend([
                Block::Paragraph(w.approval_how.into()),
                Block::Code(format!("custodianctl resets approve {}", p.reset_id)),
                Block::Code(format!("custodianctl resets reject {}", p.reset_id)),
                Block::Paragraph(fill(w.approval_expires, &[("expires", &expires)])),
                Block::Paragraph(w.footer.into()),
            ]);
            Ok(assemble(locale, w.approval_subject, &blocks))
        }
        "user_invitation" => {
            let p: InvitationPayload = serde_json::from_slice(payload)?;
            let expires = when(p.expires_at);
            let blocks = [
                Block::Paragraph(fill(w.hello, &[("name", &p.name)])),
                Block::Paragraph(fill(w.invitation_body, &[("company", &p.company)])),
                Block::Paragraph(w.invitation_link.into()),
                Block::Link(invitation_link(webapp, &p.secret)),
                Block::Paragraph(fill(w.invitation_expires, &[("expires", &expires)])),
                Block::Paragraph(w.invitation_ignore.into()),
                Block::Paragraph(w.footer.into()),
            ];
            Ok(assemble(locale, w.invitation_subject, &blocks))
        }
        "admin_invitation" => {
            let p: AdminInvitationPayload = serde_json::from_slice(payload)?;
            let expires = when(p.expires_at);
            let body = fill(
                w.admin_invitation_body,
                &[
                    ("partner", &p.partner),
                    ("role", &p.role),
                    ("email", &p.email),
                    ("partner_id", &p.partner_id),
                ],
            );
            let blocks = [
                Block::Paragraph(fill(w.hello, &[("name", &p.name)])),
                Block::Paragraph(body),
                Block::Paragraph(w.admin_invitation_link.into()),
                Block::Link(admin_invitation_link(&links.portal, &p.secret)),
                Block::Paragraph(fill(w.invitation_expires, &[("expires", &expires)])),
                Block::Paragraph(w.invitation_ignore.into()),
                Block::Paragraph(w.footer.into()),
            ];
            Ok(assemble(locale, w.admin_invitation_subject, &blocks))
        }
        other => Err(RenderError::UnknownTemplate(other.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reset_payload(kind: &str, name: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "reset_id": "r",
            "delivery_kind": kind,
            "name": name,
            "secret": "Secret-7x",
            "expires_at": "2026-11-28T09:30:00",
        }))
        .unwrap()
    }

    fn webapp() -> Links {
        Links {
            webapp: Url::parse("https://vault.example/app").unwrap(),
            portal: Url::parse("https://portal.msp.example").unwrap(),
        }
    }

    #[test]
    fn every_locale_renders_every_template_in_its_own_words() {
        let changed = serde_json::to_vec(&serde_json::json!({
            "name": "Ann", "changed_at": "2026-11-25T10:00:00",
        }))
        .unwrap();
        let recovery = serde_json::to_vec(&serde_json::json!({
            "name": "Ann", "set_at": "2026-11-25T10:00:00",
        }))
        .unwrap();
        let approval = serde_json::to_vec(&serde_json::json!({
            "name": "Carol", "requester": "Bob <bob@example.com>", "user_name": "Ann",
            "user_email": "ann@example.com", "reset_id": "r-1",
            "required_by": ["approval-for-primary-users"], "reason": null, "ticket": "PSA-42",
            "expires_at": "2026-11-26T10:00:00",
        }))
        .unwrap();
        let invitation = serde_json::to_vec(&serde_json::json!({
            "name": "Ann", "company": "Acme Dental", "secret": "Invite-7x",
            "expires_at": "2026-12-10T08:00:00",
        }))
        .unwrap();
        let admin_invitation = serde_json::to_vec(&serde_json::json!({
            "name": "Tina", "partner": "Northwind MSP", "partner_id": "p-1",
            "email": "tina@example.com", "role": "technician", "secret": "Join-7x",
            "expires_at": "2026-12-10T08:00:00",
        }))
        .unwrap();
        let mut subjects = std::collections::HashSet::new();
        for locale in LOCALES {
            let reset = render(
                "master_password_reset",
                locale,
                &reset_payload("temporary_password", "Ann"),
                &webapp(),
            )
            .unwrap();
            assert!(reset.text.contains("Secret-7x") && reset.html.contains("Secret-7x"));
            assert!(reset.text.contains("2026-11-28 09:30 UTC"), "{locale}");
            assert!(reset.text.contains("Ann"), "{locale}");
            assert!(reset.html.contains(&format!("lang=\"{locale}\"")));
            let changed = render("master_password_changed", locale, &changed, &webapp()).unwrap();
            assert!(changed.text.contains("2026-11-25 10:00 UTC"), "{locale}");
            let recovery = render("recovery_key_set", locale, &recovery, &webapp()).unwrap();
            assert!(recovery.text.contains("2026-11-25 10:00 UTC"), "{locale}");
            let approval =
                render("reset_approval_requested", locale, &approval, &webapp()).unwrap();
            for part in [
                "2026-11-26 10:00 UTC",
                "Bob <bob@example.com>",
                "Ann",
                "ann@example.com",
                "custodianctl resets approve r-1",
                "approval-for-primary-users",
                "PSA-42",
            ] {
                assert!(approval.text.contains(part), "{locale}: {part}");
            }
            let invitation = render("user_invitation", locale, &invitation, &webapp()).unwrap();
            for part in [
                "2026-12-10 08:00 UTC",
                "Ann",
                "Acme Dental",
                "https://vault.example/app/accept-invitation#token=Invite-7x",
            ] {
                assert!(invitation.text.contains(part), "{locale}: {part}");
            }
            let admin = render("admin_invitation", locale, &admin_invitation, &webapp()).unwrap();
            for part in [
                "2026-12-10 08:00 UTC",
                "Tina",
                "Northwind MSP",
                "technician",
                "tina@example.com",
                "p-1",
                "https://portal.msp.example/accept-admin-invitation#token=Join-7x",
            ] {
                assert!(admin.text.contains(part), "{locale}: {part}");
            }
            assert!(
                subjects.insert(admin.subject)
                    && subjects.insert(reset.subject)
                    && subjects.insert(changed.subject)
                    && subjects.insert(recovery.subject)
                    && subjects.insert(approval.subject)
                    && subjects.insert(invitation.subject)
            );
        }
    }

    #[test]
    fn html_escapes_what_the_payload_brings() {
        let r = render(
            "master_password_reset",
            "en",
            &reset_payload("temporary_password", "<script>alert('x')</script> & co"),
            &webapp(),
        )
        .unwrap();
        assert!(!r.html.contains("<script>"));
        assert!(
            r.html
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co")
        );
        assert!(r.text.contains("<script>"), "the text part is text");
    }

    #[test]
    fn a_link_carries_its_token_in_the_fragment_under_the_webapp() {
        let r = render(
            "master_password_reset",
            "fr",
            &reset_payload("link", "Ann"),
            &webapp(),
        )
        .unwrap();
        let link = "https://vault.example/app/reset-master-password#token=Secret-7x";
        assert!(r.text.contains(link), "{}", r.text);
        assert!(r.html.contains(&format!("href=\"{link}\"")));
        assert_eq!(
            reset_link(&Url::parse("http://127.0.0.1:8080/").unwrap(), "t").as_str(),
            "http://127.0.0.1:8080/reset-master-password#token=t"
        );
    }

    #[test]
    fn unknown_templates_and_bad_payloads_are_errors() {
        assert!(matches!(
            render("nope", "en", b"{}", &webapp()),
            Err(RenderError::UnknownTemplate(_))
        ));
        assert!(matches!(
            render("master_password_reset", "en", b"{}", &webapp()),
            Err(RenderError::Payload(_))
        ));
    }
}
