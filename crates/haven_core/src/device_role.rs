//! Whom a device serves, and so what its header offers.
//!
//! A parent's phone shows the parent their school, not the staff tools
//! (Admin, Unlock, Sign in), which crowded a phone's header. The device
//! decides from what it holds, never from the page's URL: a parent's link
//! opens the reader, but so does a policy page on a staff tablet, and the
//! header must not change under a person as they move about.
//!
//! Staff use wins: a member of staff who also holds their own child's link
//! still needs Unlock on their phone. A device that holds neither (a visitor,
//! or a phone before its link is opened) is not crowded either; staff reach
//! the sign-in page from a plain "Staff sign in" link in the footer.

/// What a device holds that says who uses it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceUse {
    /// A member of staff is unlocked now.
    pub staff_unlocked: bool,
    /// Enrolled as a reception kiosk or shared tablet (withdrawn since, too:
    /// it is still the school's device).
    pub enrolled: bool,
    /// A member of staff has signed in here before: their profile is kept,
    /// to unlock with a PIN.
    pub staff_profiles: bool,
    /// A parent's or carer's invitation link was redeemed here.
    pub parent_link: bool,
}

/// Whom the device serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceRole {
    /// The header has the staff controls (Admin, Unlock, Sign in, or who is
    /// signed in), as staff devices always had.
    Staff,
    /// The header names the parent's academy, with no staff controls.
    Parent,
    /// Neither yet: a plain header, with no staff controls.
    Visitor,
}

impl DeviceRole {
    /// Whom a device holding `held` serves.
    pub fn of(held: DeviceUse) -> DeviceRole {
        if held.staff_unlocked || held.enrolled || held.staff_profiles {
            DeviceRole::Staff
        } else if held.parent_link {
            DeviceRole::Parent
        } else {
            DeviceRole::Visitor
        }
    }

    /// Whether the header shows what only staff use (Admin, Unlock, Sign
    /// in); otherwise the footer's "Staff sign in" link is the way in.
    pub fn staff_controls(self) -> bool {
        self == DeviceRole::Staff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_that_holds_a_parents_link_serves_the_parent() {
        let phone = DeviceUse {
            parent_link: true,
            ..DeviceUse::default()
        };
        assert_eq!(DeviceRole::of(phone), DeviceRole::Parent);
        assert!(!DeviceRole::of(phone).staff_controls());
    }

    #[test]
    fn a_device_staff_use_keeps_the_staff_controls() {
        for held in [
            DeviceUse {
                staff_unlocked: true,
                ..DeviceUse::default()
            },
            DeviceUse {
                enrolled: true,
                ..DeviceUse::default()
            },
            // Locked, after a reload: Unlock must still be there.
            DeviceUse {
                staff_profiles: true,
                ..DeviceUse::default()
            },
        ] {
            assert_eq!(DeviceRole::of(held), DeviceRole::Staff, "{held:?}");
            assert!(DeviceRole::of(held).staff_controls());
        }
    }

    #[test]
    fn staff_use_wins_over_a_parents_link() {
        // A teacher's own phone, which also holds their child's link.
        let held = DeviceUse {
            staff_profiles: true,
            parent_link: true,
            ..DeviceUse::default()
        };
        assert_eq!(DeviceRole::of(held), DeviceRole::Staff);
    }

    #[test]
    fn a_device_with_neither_serves_a_visitor_with_no_staff_controls() {
        assert_eq!(DeviceRole::of(DeviceUse::default()), DeviceRole::Visitor);
        assert!(!DeviceRole::Visitor.staff_controls());
    }
}
