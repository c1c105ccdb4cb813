//! What Zoho allows each edition: API credits per rolling 24 h, concurrent calls, upload
//! size and refused file types. Pure tables, so that the config can derive the daily
//! budget once at load and the planner can refuse a file Zoho would refuse.
//!
//! Sources (also in ../shared/zoho-api-notes.md, "Editions and credits"):
//! - Bigin: Free 5,000 credits; Express and Premier 50,000 + 250 per user, at most
//!   100,000 (Bigin API docs, "API limits").
//! - CRM: zoho.com/crm/developer/docs/api/v8/api-limits.html — Free 5,000; Standard
//!   50,000 + 250/user (max 100,000); Professional + 500/user; Enterprise + 1,000/user;
//!   Ultimate + 2,000/user. The caps of the three upper editions differ between Zoho's
//!   pages (1 M / 2 M in our notes, 3 M / 5 M / unlimited in the v2/v4 pages); the lower
//!   published figures are used, which only matters past ~1,900 users.
//! - CRM concurrency per organisation: Free 5, Standard 10, Professional 15, Enterprise 20,
//!   Ultimate 25 (same page); Bigin publishes none.
//! - CRM attachments: 100 MB per file, `.exe` refused (CRM v8 "Upload an Attachment").
//!   Bigin publishes no per-attachment limit (its Files API allows 20 MB): the limit is
//!   learnt from Zoho's first `FILE_SIZE_MORE_THAN_ALLOWED` reply.

use crate::model::Product;
use std::fmt;

/// A Zoho edition (plan), which sets the organisation's API allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edition {
    /// Bigin Free.
    BiginFree,
    /// Bigin Express.
    BiginExpress,
    /// Bigin Premier.
    BiginPremier,
    /// CRM Free.
    CrmFree,
    /// CRM Standard (Starter).
    CrmStandard,
    /// CRM Professional.
    CrmProfessional,
    /// CRM Enterprise (Zoho One).
    CrmEnterprise,
    /// CRM Ultimate (CRM Plus).
    CrmUltimate,
}

/// (config name, edition) per product, in the order the docs list them.
const BIGIN_EDITIONS: &[(&str, Edition)] = &[
    ("free", Edition::BiginFree),
    ("express", Edition::BiginExpress),
    ("premier", Edition::BiginPremier),
];
const CRM_EDITIONS: &[(&str, Edition)] = &[
    ("free", Edition::CrmFree),
    ("standard", Edition::CrmStandard),
    ("professional", Edition::CrmProfessional),
    ("enterprise", Edition::CrmEnterprise),
    ("ultimate", Edition::CrmUltimate),
];

impl Edition {
    /// The editions of `product`, as (config name, edition).
    pub fn all(product: Product) -> &'static [(&'static str, Edition)] {
        match product {
            Product::Bigin => BIGIN_EDITIONS,
            Product::Crm => CRM_EDITIONS,
        }
    }

    /// The edition of `product` called `name` (case-insensitive), if there is one.
    pub fn parse(product: Product, name: &str) -> Option<Edition> {
        let wanted = name.trim().to_ascii_lowercase();
        Edition::all(product)
            .iter()
            .find(|(n, _)| *n == wanted)
            .map(|(_, e)| *e)
    }

    /// The product's smallest edition (Free), assumed when none is configured.
    pub fn smallest(product: Product) -> Edition {
        match product {
            Product::Bigin => Edition::BiginFree,
            Product::Crm => Edition::CrmFree,
        }
    }

    /// The product this edition belongs to.
    pub fn product(self) -> Product {
        match self {
            Edition::BiginFree | Edition::BiginExpress | Edition::BiginPremier => Product::Bigin,
            _ => Product::Crm,
        }
    }

    /// The name used in the config (`free`, `express`, ...).
    pub fn name(self) -> &'static str {
        Edition::all(self.product())
            .iter()
            .find(|(_, e)| *e == self)
            .map_or("?", |(n, _)| n)
    }

    /// Credits per rolling 24 h for an organisation with `users` user licences.
    pub fn daily_credits(self, users: u32) -> u64 {
        let users = u64::from(users);
        // (base, per user, cap); see the module doc for the sources.
        let (base, per_user, cap): (u64, u64, u64) = match self {
            Edition::BiginFree | Edition::CrmFree => (5_000, 0, 5_000),
            Edition::BiginExpress | Edition::BiginPremier | Edition::CrmStandard => {
                (50_000, 250, 100_000)
            }
            Edition::CrmProfessional => (50_000, 500, 1_000_000),
            Edition::CrmEnterprise => (50_000, 1_000, 2_000_000),
            Edition::CrmUltimate => (50_000, 2_000, u64::MAX),
        };
        base.saturating_add(per_user.saturating_mul(users)).min(cap)
    }

    /// Concurrent API calls Zoho allows the organisation, where it publishes a figure.
    pub fn concurrency_limit(self) -> Option<usize> {
        match self {
            Edition::CrmFree => Some(5),
            Edition::CrmStandard => Some(10),
            Edition::CrmProfessional => Some(15),
            Edition::CrmEnterprise => Some(20),
            Edition::CrmUltimate => Some(25),
            _ => None,
        }
    }
}

impl fmt::Display for Edition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.product(), self.name())
    }
}

/// CRM's documented upload limit per attachment: 100 MB.
pub const CRM_MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;

/// The largest attachment `product` is documented to take; `None` for Bigin, which
/// publishes no figure (the limit is learnt from its first refusal).
pub fn documented_upload_limit(product: Product) -> Option<u64> {
    match product {
        Product::Crm => Some(CRM_MAX_UPLOAD_BYTES),
        Product::Bigin => None,
    }
}

/// Whether `product` refuses a file by its name: CRM refuses `.exe` attachments.
pub fn refused_file_type(product: Product, name: &str) -> bool {
    product == Product::Crm
        && std::path::Path::new(name)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("exe"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_credits_follow_the_published_tables() {
        assert_eq!(Edition::BiginFree.daily_credits(50), 5_000);
        assert_eq!(Edition::BiginExpress.daily_credits(0), 50_000);
        assert_eq!(Edition::BiginPremier.daily_credits(10), 52_500);
        assert_eq!(Edition::BiginPremier.daily_credits(1_000), 100_000);
        assert_eq!(Edition::CrmFree.daily_credits(3), 5_000);
        assert_eq!(Edition::CrmStandard.daily_credits(10), 52_500);
        assert_eq!(Edition::CrmProfessional.daily_credits(10), 55_000);
        assert_eq!(Edition::CrmEnterprise.daily_credits(100), 150_000);
        assert_eq!(Edition::CrmUltimate.daily_credits(10), 70_000);
    }

    #[test]
    fn editions_belong_to_one_product() {
        assert_eq!(
            Edition::parse(Product::Bigin, "Express"),
            Some(Edition::BiginExpress)
        );
        assert_eq!(Edition::parse(Product::Bigin, "ultimate"), None);
        assert_eq!(Edition::parse(Product::Crm, "premier"), None);
        assert_eq!(Edition::parse(Product::Crm, "free"), Some(Edition::CrmFree));
        for p in [Product::Bigin, Product::Crm] {
            for (name, e) in Edition::all(p) {
                assert_eq!(e.product(), p);
                assert_eq!(e.name(), *name);
            }
        }
        assert_eq!(Edition::CrmEnterprise.concurrency_limit(), Some(20));
        assert_eq!(Edition::BiginPremier.concurrency_limit(), None);
    }

    #[test]
    fn exe_is_refused_on_crm_only() {
        assert!(refused_file_type(Product::Crm, "setup.EXE"));
        assert!(!refused_file_type(Product::Bigin, "setup.exe"));
        assert!(!refused_file_type(Product::Crm, "exe.pdf"));
        assert_eq!(documented_upload_limit(Product::Crm), Some(104_857_600));
        assert_eq!(documented_upload_limit(Product::Bigin), None);
    }
}
