//! `text_enum!`: the lowercase text form of wire-stable enums (`as_str`, `FromStr`,
//! `Display`), shared by tiers, roles and message kinds.

/// Implements `as_str`, `FromStr` (an unknown text is [`crate::Error::Invalid`] naming the
/// field) and `Display` for a fieldless enum: `text_enum!(Tier, "tier", Free = "free", …)`.
macro_rules! text_enum {
    ($ty:ident, $what:literal, $($variant:ident = $text:literal),+ $(,)?) => {
        impl $ty {
            /// The lowercase name used on the wire and in stores.
            pub fn as_str(&self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    _ => Err($crate::error::Error::invalid(
                        $what,
                        concat!("must be one of: ", $($text, " "),+),
                    )),
                }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_enum;
