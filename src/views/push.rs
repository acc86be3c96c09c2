//! The Account page's section for Web Push: turn notifications of the installed page
//! on or off in this browser (assets/push.js does the asking and subscribing).

use maud::{html, Markup};

use super::Viewer;
use crate::assets;
use crate::model::reach::Channel;
use crate::model::user::User;

pub fn account_section(viewer: &Viewer, user: &User, vapid_public_key: &str) -> Markup {
    let devices = user.push_devices;
    html! {
        section #push data-push data-vapid-key=(vapid_public_key) data-csrf=(viewer.csrf) {
            h2 { "Notifications on this device" }
            p.muted {
                "Install hitl from your browser (\u{201c}Install app\u{201d} or \u{201c}Add to Home Screen\u{201d}) and turn notifications on: "
                "each pause for you shows as a notification with Review and, for a plain decision that is not rated high or critical, Approve. "
                "Approve works only while you are signed in here."
            }
            @if !user.wants(Channel::Push) {
                p.notice role="note" { "You turned notifications of the installed page off among your channels: nothing is sent until you turn them on again." }
            }
            p {
                "Notifications are on in "
                strong data-push-devices { (devices) }
                @if devices == 1 { " browser." } @else { " browsers." }
            }
            div.notice role="status" data-push-status hidden {}
            p.muted data-push-unsupported {
                "This browser cannot turn notifications on here: it needs the page over https (or on localhost) and a browser with Web Push."
            }
            div.buttons {
                button.small type="button" data-push-on hidden { "Turn on notifications on this device" }
                button.small.secondary type="button" data-push-off hidden { "Turn off on this device" }
                @if devices > 0 {
                    button.small.secondary type="button" data-push-off-all { "Turn off on every device" }
                }
            }
            script src=(assets::url("push.js")) defer {}
        }
    }
}
