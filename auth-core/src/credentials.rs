//! The one `Authorization` parser (RFC 9110 §11.4, §11.6.2), shared by every
//! strategy so that duplicate headers, quoting and case rules behave the
//! same everywhere.
//!
//! ```text
//! credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! auth-param  = token BWS "=" BWS ( token / quoted-string )
//! ```

use std::borrow::Cow;

use actix_web::HttpRequest;
use actix_web::http::header::{AUTHORIZATION, HeaderMap};

use crate::AuthError;

/// At most this many auth-parameters in one header: a list longer than any
/// scheme needs is refused before it costs anything.
const MAX_PARAMS: usize = 64;

/// The longest parameter name quoted back in an error message.
const MAX_NAME_IN_MESSAGE: usize = 40;

/// Why an `Authorization` header could not be read. Every case is the
/// client's mistake: a 400 with `error="invalid_request"` (RFC 6750 §3.1),
/// through `From<CredentialsError> for AuthError`.
///
/// The messages never quote a token or a parameter value.
///
/// ```
/// use auth_core::{AuthError, Authorization, CredentialsError};
/// let err = Authorization::from_bytes(br#"Digest realm="api"#).parse().unwrap_err();
/// assert_eq!(err, CredentialsError::UnterminatedQuotedString);
/// assert_eq!(AuthError::from(err).status(), 400);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The request has more than one `Authorization` field: which one the
    /// client meant is unknowable, so none is read.
    #[error("the request has more than one Authorization header")]
    DuplicateHeader,
    /// The value is empty or does not start with a scheme (a token).
    #[error("the Authorization header has no scheme")]
    MissingScheme,
    /// The scheme is followed by something other than a space.
    #[error("the Authorization scheme must be followed by a space and the credentials")]
    BadScheme,
    /// A token68 is followed by more text (`Bearer a b`).
    #[error("the Authorization header value has too many parts")]
    TooManyParts,
    /// An auth-parameter name is not a token.
    #[error("an Authorization parameter name is not a token")]
    BadParamName,
    /// An auth-parameter has no `=`.
    #[error("an Authorization parameter has no '=' and value")]
    MissingEquals,
    /// An auth-parameter value is neither a token nor a quoted-string.
    #[error("an Authorization parameter value is neither a token nor a quoted-string")]
    BadParamValue,
    /// A quoted-string has no closing `"`.
    #[error("an Authorization parameter has an unterminated quoted-string")]
    UnterminatedQuotedString,
    /// A quoted-string holds a control character, or a `\` before one.
    #[error("an Authorization quoted-string contains a control character")]
    BadQuotedString,
    /// Two auth-parameters are not separated by a comma.
    #[error("Authorization parameters must be separated by commas")]
    MissingComma,
    /// A parameter name appears twice (names compare case-insensitively).
    #[error("the Authorization parameter '{0}' is repeated")]
    DuplicateParam(String),
    /// More auth-parameters than any scheme uses.
    #[error("the Authorization header has too many parameters")]
    TooManyParams,
    /// A quoted-string's obs-text is not UTF-8.
    #[error("an Authorization parameter value is not valid UTF-8")]
    NotUtf8,
}

impl From<CredentialsError> for AuthError {
    fn from(e: CredentialsError) -> Self {
        AuthError::invalid_request(e.to_string())
    }
}

/// One `Authorization` header field, not yet parsed.
///
/// [`Authorization::from_request`] applies the one policy for several
/// fields: the request is refused (400). [`has_scheme`](Self::has_scheme)
/// tells a strategy whether the header is of its scheme without parsing the
/// rest, so a strategy answers "not mine" to another scheme whatever follows
/// it; [`parse`](Self::parse) reads the credentials.
///
/// Most strategies call [`credentials_for`] instead, which does all three.
///
/// ```
/// use auth_core::{Authorization, Credentials};
/// let auth = Authorization::from_bytes(b"Bearer abc.def.ghi");
/// assert!(auth.has_scheme("bearer"));
/// let creds = auth.parse().unwrap();
/// assert_eq!(creds.scheme(), "Bearer");
/// assert_eq!(creds.token68(), Some("abc.def.ghi"));
/// ```
#[derive(Clone, Copy)]
pub struct Authorization<'a> {
    raw: &'a [u8],
}

impl std::fmt::Debug for Authorization<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("Authorization").finish_non_exhaustive()
    }
}

impl<'a> Authorization<'a> {
    /// The request's `Authorization` field: `Ok(None)` without one,
    /// [`CredentialsError::DuplicateHeader`] with more than one.
    ///
    /// ```
    /// use actix_web::test::TestRequest;
    /// use auth_core::{Authorization, CredentialsError};
    ///
    /// let req = TestRequest::default()
    ///     .append_header(("authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="))
    ///     .append_header(("authorization", "Bearer abc"))
    ///     .to_http_request();
    /// assert_eq!(Authorization::from_request(&req).unwrap_err(), CredentialsError::DuplicateHeader);
    ///
    /// let req = TestRequest::default().to_http_request();
    /// assert!(Authorization::from_request(&req).unwrap().is_none());
    /// ```
    pub fn from_request(req: &'a HttpRequest) -> Result<Option<Self>, CredentialsError> {
        Self::from_headers(req.headers())
    }

    /// [`from_request`](Self::from_request) over a header map.
    pub fn from_headers(headers: &'a HeaderMap) -> Result<Option<Self>, CredentialsError> {
        let mut values = headers.get_all(AUTHORIZATION);
        let Some(first) = values.next() else {
            return Ok(None);
        };
        // SAFETY-NOTE: two strategies reading two different fields could
        // authenticate a request as one user and log it as another; RFC 9110
        // §5.3 allows several fields only for list-valued headers, which
        // `Authorization` is not.
        if values.next().is_some() {
            return Err(CredentialsError::DuplicateHeader);
        }
        Ok(Some(Authorization::from_bytes(first.as_bytes())))
    }

    /// A field value, e.g. from a header map of one's own or a fuzzer.
    pub fn from_bytes(raw: &'a [u8]) -> Self {
        Authorization { raw }
    }

    /// Whether the value starts with `scheme` (case-insensitive, RFC 9110
    /// §11.1) followed by a space or the end. Nothing after the scheme is
    /// read, so another strategy's malformed header is still "not mine".
    ///
    /// ```
    /// use auth_core::Authorization;
    /// assert!(Authorization::from_bytes(b"bEaReR x").has_scheme("Bearer"));
    /// assert!(Authorization::from_bytes(b"Basic").has_scheme("basic"));
    /// assert!(!Authorization::from_bytes(b"Basicx y").has_scheme("basic"));
    /// assert!(!Authorization::from_bytes("Digest \u{e9}".as_bytes()).has_scheme("basic"));
    /// ```
    pub fn has_scheme(&self, scheme: &str) -> bool {
        let value = trim_ows(self.raw);
        let scheme = scheme.as_bytes();
        value.len() >= scheme.len()
            && value[..scheme.len()].eq_ignore_ascii_case(scheme)
            && matches!(value.get(scheme.len()), None | Some(b' '))
    }

    /// Parses the whole value: scheme, then nothing, a token68 or a list of
    /// auth-parameters.
    ///
    /// ```
    /// use auth_core::{Authorization, CredentialsError};
    /// let creds = Authorization::from_bytes(br#"Digest username="Mufasa", nc=00000001"#).parse().unwrap();
    /// let params = creds.params().unwrap();
    /// assert_eq!(params.get("USERNAME"), Some("Mufasa"));
    /// assert_eq!(params.get("nc"), Some("00000001"));
    ///
    /// let err = Authorization::from_bytes(b"Bearer a b").parse().unwrap_err();
    /// assert_eq!(err, CredentialsError::TooManyParts);
    /// ```
    pub fn parse(&self) -> Result<Credentials<'a>, CredentialsError> {
        let value = trim_ows(self.raw);
        let scheme_len = run_of(value, &TCHAR);
        if scheme_len == 0 {
            return Err(CredentialsError::MissingScheme);
        }
        let scheme = ascii(&value[..scheme_len]);
        let rest = &value[scheme_len..];
        if rest.is_empty() {
            return Ok(Credentials::new(scheme, CredentialsData::Empty));
        }
        if rest[0] != b' ' {
            return Err(CredentialsError::BadScheme);
        }
        let body = &rest[rest.iter().take_while(|&&b| b == b' ').count()..];
        if body.is_empty() {
            return Ok(Credentials::new(scheme, CredentialsData::Empty));
        }
        // token68 first: `abc=` is a token68 (an auth-param needs a value),
        // `a=b` is not (nothing may follow the padding).
        let run = token68_run(body);
        let padded = run + body[run..].iter().take_while(|&&b| b == b'=').count();
        if run > 0 && body[padded..].iter().all(|&b| is_ows(b)) {
            return Ok(Credentials::new(
                scheme,
                CredentialsData::Token68(ascii(&body[..padded])),
            ));
        }
        match parse_params(body) {
            Ok(params) => Ok(Credentials::new(scheme, CredentialsData::Params(params))),
            // `Bearer xx.yy.zz extra`: one credential, then more words.
            Err(_) if run > 0 && body.get(padded).copied().is_some_and(is_ows) => {
                Err(CredentialsError::TooManyParts)
            }
            Err(e) => Err(e),
        }
    }

    /// `Ok(None)` when the value is of another scheme, else
    /// [`parse`](Self::parse).
    pub fn parse_scheme(&self, scheme: &str) -> Result<Option<Credentials<'a>>, CredentialsError> {
        if self.has_scheme(scheme) {
            self.parse().map(Some)
        } else {
            Ok(None)
        }
    }
}

/// The credentials of the request's `Authorization` header when it is of
/// `scheme`: what every strategy reading that header calls.
///
/// `Ok(None)`: no header, or another scheme (not this strategy's request).
/// `Err`: several `Authorization` fields (whatever their schemes), or a
/// malformed value of this scheme; both are a 400.
///
/// ```
/// use actix_web::test::TestRequest;
/// use auth_core::credentials_for;
///
/// let req = TestRequest::default()
///     .insert_header(("authorization", "ApiKey ak_1_secret"))
///     .to_http_request();
/// let creds = credentials_for(&req, "apikey").unwrap().unwrap();
/// assert_eq!(creds.token68(), Some("ak_1_secret"));
/// assert!(credentials_for(&req, "bearer").unwrap().is_none());
/// ```
pub fn credentials_for<'r>(
    req: &'r HttpRequest,
    scheme: &str,
) -> Result<Option<Credentials<'r>>, CredentialsError> {
    match Authorization::from_request(req)? {
        Some(auth) => auth.parse_scheme(scheme),
        None => Ok(None),
    }
}

/// Parsed `Authorization` credentials: the scheme as sent, and what follows.
///
/// `Debug` shows the scheme and the parameter names, never a token or a
/// parameter value.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials<'a> {
    scheme: &'a str,
    data: CredentialsData<'a>,
}

/// What follows the scheme.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialsData<'a> {
    /// Nothing: the scheme alone.
    Empty,
    /// A token68 (`Bearer`, `Basic`), `=` padding included.
    Token68(&'a str),
    /// A list of auth-parameters (`Digest`).
    Params(AuthParams<'a>),
}

impl std::fmt::Debug for CredentialsData<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialsData::Empty => f.write_str("Empty"),
            CredentialsData::Token68(_) => f.write_str("Token68(<redacted>)"),
            CredentialsData::Params(p) => f.debug_tuple("Params").field(p).finish(),
        }
    }
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("scheme", &self.scheme)
            .field("data", &self.data)
            .finish()
    }
}

impl<'a> Credentials<'a> {
    fn new(scheme: &'a str, data: CredentialsData<'a>) -> Self {
        Credentials { scheme, data }
    }

    /// The scheme as the client spelled it; compare it case-insensitively.
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// What follows the scheme.
    pub fn data(&self) -> &CredentialsData<'a> {
        &self.data
    }

    /// The token68, if the credentials are one.
    pub fn token68(&self) -> Option<&'a str> {
        match self.data {
            CredentialsData::Token68(t) => Some(t),
            _ => None,
        }
    }

    /// The auth-parameters, if the credentials are a list of them.
    pub fn params(&self) -> Option<&AuthParams<'a>> {
        match &self.data {
            CredentialsData::Params(p) => Some(p),
            _ => None,
        }
    }

    /// Takes the auth-parameters, if the credentials are a list of them.
    pub fn into_params(self) -> Option<AuthParams<'a>> {
        match self.data {
            CredentialsData::Params(p) => Some(p),
            _ => None,
        }
    }

    /// Whether nothing follows the scheme.
    pub fn is_empty(&self) -> bool {
        matches!(self.data, CredentialsData::Empty)
    }
}

/// A list of auth-parameters (RFC 9110 §11.2): names are tokens, matched
/// case-insensitively, each at most once; values are tokens or
/// quoted-strings, unescaped. Empty list elements (`a=1, , b=2`) are
/// ignored, as RFC 9110 §5.6.1.2 asks of a recipient.
///
/// `Debug` shows the names only.
///
/// ```
/// use auth_core::{AuthParams, CredentialsError};
/// let p = AuthParams::parse(r#"realm="a \"quoted\" realm", qop=auth"#).unwrap();
/// assert_eq!(p.get("realm"), Some(r#"a "quoted" realm"#));
/// assert_eq!(p.get("QOP"), Some("auth"));
/// assert_eq!(p.len(), 2);
/// assert_eq!(AuthParams::parse("a=1, A=2").unwrap_err(), CredentialsError::DuplicateParam("a".into()));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthParams<'a> {
    params: Vec<(&'a str, Cow<'a, str>)>,
}

impl std::fmt::Debug for AuthParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.params.iter().map(|(n, _)| n))
            .finish()
    }
}

impl<'a> AuthParams<'a> {
    /// Parses a list of auth-parameters, e.g. the part of a `Digest`
    /// challenge or credentials after the scheme.
    pub fn parse(input: &'a str) -> Result<Self, CredentialsError> {
        parse_params(input.as_bytes())
    }

    /// The value of the parameter `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// The parameters as sent: names in the client's spelling, values
    /// unescaped.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &str)> + '_ {
        self.params.iter().map(|(n, v)| (*n, v.as_ref()))
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}

fn parse_params(input: &[u8]) -> Result<AuthParams<'_>, CredentialsError> {
    let mut params: Vec<(&str, Cow<'_, str>)> = Vec::new();
    let mut i = 0;
    let skip = |i: &mut usize, pred: fn(u8) -> bool| {
        while input.get(*i).copied().is_some_and(pred) {
            *i += 1;
        }
    };
    loop {
        // Empty list elements and the OWS around them.
        skip(&mut i, |b| is_ows(b) || b == b',');
        if i == input.len() {
            return Ok(AuthParams { params });
        }
        let start = i;
        skip(&mut i, is_tchar);
        if i == start {
            return Err(CredentialsError::BadParamName);
        }
        let name = ascii(&input[start..i]);
        skip(&mut i, is_ows);
        if input.get(i) != Some(&b'=') {
            return Err(CredentialsError::MissingEquals);
        }
        i += 1;
        skip(&mut i, is_ows);
        let value = if input.get(i) == Some(&b'"') {
            let (value, end) = quoted_string(input, i + 1)?;
            i = end;
            value
        } else {
            let start = i;
            skip(&mut i, is_tchar);
            if i == start {
                return Err(CredentialsError::BadParamValue);
            }
            Cow::Borrowed(ascii(&input[start..i]))
        };
        if params.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            let mut shown = name.to_ascii_lowercase();
            shown.truncate(MAX_NAME_IN_MESSAGE);
            return Err(CredentialsError::DuplicateParam(shown));
        }
        if params.len() == MAX_PARAMS {
            return Err(CredentialsError::TooManyParams);
        }
        params.push((name, value));
        skip(&mut i, is_ows);
        match input.get(i) {
            None => return Ok(AuthParams { params }),
            Some(b',') => {}
            Some(_) => return Err(CredentialsError::MissingComma),
        }
    }
}

/// Reads a quoted-string whose opening `"` is just before `start`; returns
/// the unescaped value and the index after the closing `"`.
fn quoted_string(input: &[u8], start: usize) -> Result<(Cow<'_, str>, usize), CredentialsError> {
    let mut escaped: Option<Vec<u8>> = None;
    let mut i = start;
    loop {
        match input.get(i).copied() {
            None => return Err(CredentialsError::UnterminatedQuotedString),
            Some(b'"') => {
                let value = match escaped {
                    None => Cow::Borrowed(
                        std::str::from_utf8(&input[start..i])
                            .map_err(|_| CredentialsError::NotUtf8)?,
                    ),
                    Some(bytes) => {
                        Cow::Owned(String::from_utf8(bytes).map_err(|_| CredentialsError::NotUtf8)?)
                    }
                };
                return Ok((value, i + 1));
            }
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            Some(b'\\') => {
                let Some(next) = input.get(i + 1).copied() else {
                    return Err(CredentialsError::UnterminatedQuotedString);
                };
                if !is_qpair_char(next) {
                    return Err(CredentialsError::BadQuotedString);
                }
                escaped
                    .get_or_insert_with(|| input[start..i].to_vec())
                    .push(next);
                i += 2;
            }
            Some(b) if is_qdtext(b) => {
                if let Some(bytes) = &mut escaped {
                    bytes.push(b);
                }
                i += 1;
            }
            Some(_) => return Err(CredentialsError::BadQuotedString),
        }
    }
}

/// Text made only of bytes checked to be ASCII (tchar, token68).
fn ascii(bytes: &[u8]) -> &str {
    // Every caller passes bytes it checked to be ASCII, so this never fails;
    // an empty string would be refused by every caller anyway.
    std::str::from_utf8(bytes).unwrap_or_default()
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = v
        && is_ows(*first)
    {
        v = rest;
    }
    while let [rest @ .., last] = v
        && is_ows(*last)
    {
        v = rest;
    }
    v
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A set of bytes as a 256-entry table.
type ByteClass = [bool; 256];

const fn byte_class(alphanumeric: bool, others: &[u8]) -> ByteClass {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = alphanumeric && (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < others.len() {
        table[others[i] as usize] = true;
        i += 1;
    }
    table
}

/// RFC 9110 §5.6.2 `tchar`.
const TCHAR: ByteClass = byte_class(true, b"!#$%&'*+-.^_`|~");

/// RFC 9110 §11.2 `token68`, without the `=` padding.
const TOKEN68: ByteClass = byte_class(true, b"-._~+/");

/// The length of the run of `class` bytes at the start of `bytes`.
fn run_of(bytes: &[u8], class: &ByteClass) -> usize {
    bytes
        .iter()
        .position(|&b| !class[b as usize])
        .unwrap_or(bytes.len())
}

/// [`run_of`] for [`TOKEN68`], which every bearer request scans over the
/// whole token (200 bytes and more): sixteen bytes at a time, with
/// comparisons the compiler turns into vector instructions, then byte by
/// byte through the chunk that ends the run. A fifth of the instructions of
/// a table lookup per byte.
fn token68_run(bytes: &[u8]) -> usize {
    fn is_token68(b: u8) -> bool {
        let lower = b | 0x20;
        (lower.wrapping_sub(b'a') < 26)
            | (b.wrapping_sub(b'0') < 10)
            // `-` `.` `/` are 0x2d..=0x2f.
            | (b.wrapping_sub(b'-') < 3)
            | (b == b'_')
            | (b == b'~')
            | (b == b'+')
    }
    let mut n = 0;
    for chunk in bytes.chunks_exact(16) {
        if !chunk.iter().fold(true, |all, &b| all & is_token68(b)) {
            break;
        }
        n += 16;
    }
    n + run_of(&bytes[n..], &TOKEN68)
}

fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

/// RFC 9110 §5.6.4 `qdtext`: HTAB, SP, visible ASCII but `"` and `\`, obs-text.
fn is_qdtext(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff)
}

fn is_qpair_char(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_classes_are_the_grammar_s() {
        for b in 0..=255u8 {
            let alnum = b.is_ascii_alphanumeric();
            assert_eq!(TOKEN68[b as usize], alnum || b"-._~+/".contains(&b), "{b}");
            assert_eq!(
                TCHAR[b as usize],
                alnum || b"!#$%&'*+-.^_`|~".contains(&b),
                "{b}"
            );
            // The vectorised scan, with `b` at every place of two chunks.
            for at in 0..40 {
                let mut input = vec![b'x'; 40];
                input[at] = b;
                let expected = if TOKEN68[b as usize] { 40 } else { at };
                assert_eq!(token68_run(&input), expected, "byte {b} at {at}");
            }
        }
    }

    fn parse(v: &str) -> Result<Credentials<'_>, CredentialsError> {
        Authorization::from_bytes(v.as_bytes()).parse()
    }

    fn parse_bytes(v: &[u8]) -> Result<Credentials<'_>, CredentialsError> {
        Authorization::from_bytes(v).parse()
    }

    fn params(v: &str) -> Vec<(String, String)> {
        parse(v)
            .unwrap()
            .params()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn token68_with_padding_and_spaces() {
        for (value, token) in [
            ("Bearer abc.def.ghi", "abc.def.ghi"),
            (
                "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
                "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
            ),
            ("bEaReR   a+b/c~d-e_f.g=  ", "a+b/c~d-e_f.g="),
            ("  Bearer x\t", "x"),
            ("Bearer abc=", "abc="),
        ] {
            let c = parse(value).unwrap();
            assert_eq!(c.token68(), Some(token), "{value}");
        }
        assert_eq!(parse("Bearer abc").unwrap().scheme(), "Bearer");
    }

    #[test]
    fn the_scheme_alone_is_empty_credentials() {
        for value in ["Bearer", "Bearer ", "Basic    ", "  Digest\t"] {
            assert!(parse(value).unwrap().is_empty(), "{value}");
        }
    }

    #[test]
    fn empty_values_have_no_scheme() {
        for value in ["", " ", "\t\t", "   \t "] {
            assert_eq!(
                parse(value).unwrap_err(),
                CredentialsError::MissingScheme,
                "{value:?}"
            );
        }
    }

    #[test]
    fn a_bad_scheme_is_refused() {
        for value in ["\"Bearer\" x", "=abc", ",", "(Bearer) x", "@x"] {
            assert_eq!(
                parse(value).unwrap_err(),
                CredentialsError::MissingScheme,
                "{value}"
            );
        }
        for value in [
            "Bearer\tabc",
            "Bearer,abc",
            "Bearer=abc",
            "Bearer\"x\"",
            "Bé x",
        ] {
            assert_eq!(
                parse(value).unwrap_err(),
                CredentialsError::BadScheme,
                "{value}"
            );
        }
    }

    #[test]
    fn bad_token68_characters_are_refused() {
        for value in [
            "Bearer abc;",
            "Bearer \"abc\"",
            "Bearer ==",
            "Bearer x=y=",
            "Bearer abc,",
            "Bearer a%b",
            "Bearer !!!.###.$$$",
            "Bearer a*b",
        ] {
            let got = parse(value);
            assert!(
                got.as_ref().map_or(true, |c| c.token68().is_none()),
                "{value}: {got:?}"
            );
            assert!(got.is_err(), "{value}: {got:?}");
        }
    }

    #[test]
    fn more_words_after_a_token68_are_too_many_parts() {
        for value in [
            "Bearer a b",
            "Bearer xx.yy.zz extra",
            "Basic xxx yyy",
            "Bearer abc ,",
            "X a= ,b=2",
            "Bearer / A",
        ] {
            assert_eq!(
                parse(value).unwrap_err(),
                CredentialsError::TooManyParts,
                "{value}"
            );
        }
    }

    #[test]
    fn auth_params_tokens_and_quoted_strings() {
        assert_eq!(
            params(
                r#"Digest username="Mufasa", realm="http-auth@example.org", nc=00000001, qop=auth"#
            ),
            pairs(&[
                ("username", "Mufasa"),
                ("realm", "http-auth@example.org"),
                ("nc", "00000001"),
                ("qop", "auth"),
            ])
        );
        // BWS around `=`, OWS around commas.
        assert_eq!(
            params("X a = b ,c\t=\t\"d\"\t, e=f"),
            pairs(&[("a", "b"), ("c", "d"), ("e", "f")])
        );
        // quoted-pair: any escaped character stands for itself.
        assert_eq!(
            params(r#"X a="x\"y\\z\q", b="", c=" sp ace ""#),
            pairs(&[("a", "x\"y\\zq"), ("b", ""), ("c", " sp ace ")])
        );
        // Commas inside a quoted-string are text.
        assert_eq!(params(r#"X a="1,2""#), pairs(&[("a", "1,2")]));
    }

    #[test]
    fn empty_list_elements_are_ignored() {
        for value in [
            "X a=1,b=2",
            "X ,a=1,b=2",
            "X a=1,,b=2",
            "X a=1, , ,b=2,",
            "X , , a=1 ,\t, b=2 , ",
        ] {
            assert_eq!(params(value), pairs(&[("a", "1"), ("b", "2")]), "{value}");
        }
        assert!(parse("X ,").unwrap().params().unwrap().is_empty());
    }

    #[test]
    fn stray_commas_outside_a_list_are_refused() {
        for value in [
            "Bearer abc,def",
            "Bearer ,abc",
            "X a=1,b",
            "X a,=1",
            "Bearer abc ,",
            "X ,=",
        ] {
            assert!(parse(value).is_err(), "{value}");
        }
    }

    #[test]
    fn unterminated_quoted_strings_are_refused() {
        for value in [
            r#"Digest username="Mufasa"#,
            r#"Digest username="Mufasa, realm=x"#,
            r#"Digest a="x\"#,
            r#"Digest a="x\\\""#,
            r#"Digest a=""#,
            r#"Digest a=1, b=""#,
        ] {
            assert_eq!(
                parse(value).unwrap_err(),
                CredentialsError::UnterminatedQuotedString,
                "{value}"
            );
        }
    }

    #[test]
    fn control_characters_in_quoted_strings_are_refused() {
        for value in [
            &b"Digest a=\"x\x01y\""[..],
            b"Digest a=\"x\x7fy\"",
            b"Digest a=\"x\\\x01\"",
            b"Digest a=\"\x1b[31m\"",
        ] {
            assert_eq!(
                parse_bytes(value).unwrap_err(),
                CredentialsError::BadQuotedString,
                "{value:?}"
            );
        }
        // HTAB is qdtext.
        assert_eq!(params("X a=\"x\ty\""), pairs(&[("a", "x\ty")]));
    }

    #[test]
    fn duplicate_param_names_are_refused_whatever_the_case() {
        for (value, name) in [
            ("Digest nc=1, nc=2", "nc"),
            ("Digest nc=1, NC=2", "nc"),
            (
                r#"Digest username="a", realm="r", Username="b""#,
                "username",
            ),
            ("Digest a=1, b=2, a=1", "a"),
        ] {
            assert_eq!(
                parse(value).unwrap_err(),
                CredentialsError::DuplicateParam(name.into()),
                "{value}"
            );
        }
        // The name quoted back is bounded.
        let long = "n".repeat(500);
        let err = parse(&format!("X {long}=1, {long}=2")).unwrap_err();
        assert_eq!(err, CredentialsError::DuplicateParam("n".repeat(40)));
    }

    #[test]
    fn a_param_without_equals_or_value_is_refused() {
        for value in ["novalue", "a=1, b", "a=1, b c", "a 1", "a=1,b"] {
            assert_eq!(
                AuthParams::parse(value).unwrap_err(),
                CredentialsError::MissingEquals,
                "{value}"
            );
        }
        for value in ["X a=, b=1", "X a=,", "X a=(1)", "X b=1, a="] {
            assert_eq!(
                parse(value).unwrap_err(),
                CredentialsError::BadParamValue,
                "{value}"
            );
        }
        for value in ["X a=1 b=2", "X a=\"1\"b=2", "X a=1;b=2"] {
            assert_eq!(
                parse(value).unwrap_err(),
                CredentialsError::MissingComma,
                "{value}"
            );
        }
        for value in ["X a=1, =2", "X a=1, \"b\"=2", "X a=1, (b)=2"] {
            assert_eq!(
                parse(value).unwrap_err(),
                CredentialsError::BadParamName,
                "{value}"
            );
        }
    }

    #[test]
    fn non_ascii_is_refused_outside_quoted_strings() {
        for value in [
            "Bearer t\u{f6}ken",
            "Bearer \u{e9}",
            "Digest us\u{e9}r=1",
            "Digest user=\u{e9}",
            "Basic QWxh\u{2028}ZGRp",
        ] {
            assert!(parse(value).is_err(), "{value}");
        }
        for value in [&b"Bearer ab\xffcd"[..], b"Digest a=\xff", b"\xffBearer x"] {
            assert!(parse_bytes(value).is_err(), "{value:?}");
        }
    }

    #[test]
    fn obs_text_in_quoted_strings_must_be_utf8() {
        // RFC 9110 allows obs-text in a quoted-string; values are text.
        assert_eq!(
            params("Digest username=\"J\u{e4}s\u{f8}n Doe\""),
            pairs(&[("username", "J\u{e4}s\u{f8}n Doe")])
        );
        for value in [
            &b"Digest a=\"\xff\""[..],
            b"Digest a=\"x\\\xe9\"",
            b"Digest a=\"\xc3\"",
        ] {
            assert_eq!(
                parse_bytes(value).unwrap_err(),
                CredentialsError::NotUtf8,
                "{value:?}"
            );
        }
    }

    #[test]
    fn very_long_values_parse_in_one_pass() {
        let token = "a".repeat(1 << 20);
        assert_eq!(
            parse(&format!("Bearer {token}")).unwrap().token68(),
            Some(token.as_str())
        );
        let quoted = "q".repeat(1 << 20);
        assert_eq!(
            params(&format!("Digest a=\"{quoted}\"")),
            pairs(&[("a", &quoted)])
        );
        let many_commas = format!("Digest {}a=1", ",".repeat(1 << 20));
        assert_eq!(params(&many_commas), pairs(&[("a", "1")]));
        let unterminated = format!("Digest a=\"{quoted}");
        assert_eq!(
            parse(&unterminated).unwrap_err(),
            CredentialsError::UnterminatedQuotedString
        );
        let long_scheme = "S".repeat(1 << 16);
        assert!(parse(&long_scheme).unwrap().is_empty());
    }

    #[test]
    fn too_many_params_are_refused() {
        let list = |n: usize| {
            (0..n)
                .map(|i| format!("p{i}=v"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        assert_eq!(params(&format!("X {}", list(MAX_PARAMS))).len(), MAX_PARAMS);
        assert_eq!(
            parse(&format!("X {}", list(MAX_PARAMS + 1))).unwrap_err(),
            CredentialsError::TooManyParams
        );
    }

    #[test]
    fn has_scheme_reads_only_the_scheme() {
        let auth = |v: &'static [u8]| Authorization::from_bytes(v);
        assert!(auth(b"Basic \xff\xfe").has_scheme("basic"));
        assert!(auth(b"  basic").has_scheme("Basic"));
        assert!(!auth(b"Basic\tabc").has_scheme("basic"));
        assert!(!auth(b"Bas").has_scheme("basic"));
        assert!(!auth(b"").has_scheme("basic"));
        assert!(!auth(b"Bearer x").has_scheme("basic"));
        assert_eq!(auth(b"Bearer x").parse_scheme("basic").unwrap(), None);
        assert_eq!(
            auth(b"Basic a b").parse_scheme("basic").unwrap_err(),
            CredentialsError::TooManyParts
        );
    }

    #[test]
    fn debug_never_shows_credentials() {
        let c = parse(r#"Digest username="Mufasa", response="s3cr3t""#).unwrap();
        let shown = format!("{c:?}");
        assert!(
            shown.contains("username") && !shown.contains("Mufasa"),
            "{shown}"
        );
        assert!(!shown.contains("s3cr3t"), "{shown}");
        let c = parse("Bearer s3cr3t.token").unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert!(!format!("{:?}", Authorization::from_bytes(b"Bearer s3cr3t")).contains("s3cr3t"));
    }

    #[test]
    fn duplicate_headers_are_refused_whatever_their_schemes() {
        use actix_web::test::TestRequest;
        for (first, second) in [
            ("Bearer a", "Bearer a"),
            ("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Bearer a"),
            ("Bearer a", "Digest username=\"x\""),
            ("Other x", "Other y"),
        ] {
            let req = TestRequest::default()
                .append_header((AUTHORIZATION, first))
                .append_header((AUTHORIZATION, second))
                .to_http_request();
            for scheme in ["bearer", "basic", "digest", "apikey"] {
                assert_eq!(
                    credentials_for(&req, scheme).unwrap_err(),
                    CredentialsError::DuplicateHeader
                );
            }
        }
        let req = TestRequest::default().to_http_request();
        assert_eq!(credentials_for(&req, "bearer").unwrap(), None);
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        /// A quoted-string for `value`: `"` and `\` escaped, and any other
        /// character escaped when `escape_all`.
        fn quote(value: &str, escape_all: bool) -> String {
            let mut out = String::from("\"");
            for c in value.chars() {
                if escape_all || c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
            out
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// No input panics, and whatever parses keeps its promises.
            #[test]
            fn never_panics(value in proptest::collection::vec(any::<u8>(), 0..300)) {
                let auth = Authorization::from_bytes(&value);
                let _ = auth.has_scheme("basic");
                if let Ok(creds) = auth.parse() {
                    prop_assert!(!creds.scheme().is_empty());
                    prop_assert!(auth.has_scheme(creds.scheme()));
                    if let Some(params) = creds.params() {
                        prop_assert!(params.len() <= MAX_PARAMS);
                    }
                }
            }

            /// Parameters written with RFC 9110's rules read back exactly,
            /// whatever the spacing, quoting and empty list elements.
            #[test]
            fn params_round_trip(
                scheme in "[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,10}",
                pairs in proptest::collection::btree_map(
                    "[a-z][a-z0-9_-]{0,10}",
                    ("[^\\p{Cc}]{0,30}", any::<bool>(), any::<bool>()),
                    1..8,
                ),
                bws in "[ \t]{0,2}",
                ows in "[ \t]{0,2}",
                empties in 0usize..3,
            ) {
                let list = pairs
                    .iter()
                    .map(|(name, (value, quoted, escape_all))| {
                        let is_token = !value.is_empty() && value.bytes().all(is_tchar);
                        let value = if is_token && !quoted {
                            value.clone()
                        } else {
                            quote(value, *escape_all)
                        };
                        format!("{name}{bws}={bws}{value}")
                    })
                    .collect::<Vec<_>>()
                    .join(&format!("{ows},{}{ows}", ",".repeat(empties)));
                let header = format!("{scheme} {list}");
                let creds = Authorization::from_bytes(header.as_bytes()).parse().unwrap();
                prop_assert_eq!(creds.scheme(), scheme.as_str());
                let params = creds.params().expect("a parameter list");
                prop_assert_eq!(params.len(), pairs.len());
                for (name, (value, _, _)) in &pairs {
                    prop_assert_eq!(params.get(&name.to_ascii_uppercase()), Some(value.as_str()));
                }
            }

            /// The table scan agrees with the grammar's definition, whatever
            /// byte ends the run and wherever (inside or after a chunk of 16).
            #[test]
            fn run_of_matches_the_grammar(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
                let token68 = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
                let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
                let mut long = b"aZ09-._~+/bcdefg".repeat(3);
                long.extend_from_slice(&bytes);
                for input in [&bytes[..], &long[..]] {
                    prop_assert_eq!(run_of(input, &TOKEN68), input.iter().take_while(|&&b| token68(b)).count());
                    prop_assert_eq!(token68_run(input), input.iter().take_while(|&&b| token68(b)).count());
                    prop_assert_eq!(run_of(input, &TCHAR), input.iter().take_while(|&&b| tchar(b)).count());
                }
            }

            /// A token68 reads back as sent, and one more word never leaves a
            /// token68.
            #[test]
            fn token68_round_trips(
                token in "[A-Za-z0-9._~+/-]{1,200}={0,2}",
                spaces in 1usize..4,
                extra in "[A-Za-z0-9]{1,10}",
            ) {
                let header = format!("Bearer{}{token}", " ".repeat(spaces));
                let creds = Authorization::from_bytes(header.as_bytes()).parse().unwrap();
                prop_assert_eq!(creds.token68(), Some(token.as_str()));
                let more = format!("{header} {extra}");
                let more = Authorization::from_bytes(more.as_bytes()).parse();
                if token.ends_with('=') {
                    // `a= b` is the auth-param a=b (BWS around `=`).
                    prop_assert!(more.map_or(true, |c| c.token68().is_none()));
                } else {
                    prop_assert_eq!(more.unwrap_err(), CredentialsError::TooManyParts);
                }
            }
        }
    }
}
