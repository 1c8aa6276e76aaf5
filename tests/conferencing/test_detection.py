"""Join-link detection (PRODUCT.md M6) on invitation bodies as Outlook, Google Calendar, Zoom,
Teams, Webex and others write them, in plain text and HTML; then precedence, accounts, URL
helpers, and hostile input."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calmesh.conferencing import (
    NO_CONFERENCE,
    DetectedConference,
    detect_conference,
    find_join_links,
    identify_join_link,
    plain_text,
    service_for_url,
    unwrap_url,
    with_google_account,
)
from calmesh.domain.events import ConferenceData
from calmesh.ical._conference import service_for_url as ical_service_for_url

#: "Don't check this field" in a table row.
ANY: object = object()

TEAMS_JOIN = (
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjA5ZTY2ZDYtMjhkOS00YmY2LTk3YjItNWM0ZDBlZjE5MzBh"
    "%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a%22"
    "37c7b3e3-2b5f-4d80-8e9f-1f3f3b5e1e7c%22%7d"
)
SAFELINK = (
    "https://nam12.safelinks.protection.outlook.com/?url=" + quote(TEAMS_JOIN, safe="")
    + "&data=05%7C02%7Cgrace%40acme.com%7C1b2c3d4e5f6a47b8c9d0%7C72f988bf86f141af91ab2d7cd011db47%7C0%7C0%7C638"
    "&sdata=Zx9yQ2wVbN8kL1mP3oR5sT7uV9xZ1aB3cD5eF7gH9iJ%3D&reserved=0"
)
ZOOM_JOIN = "https://us02web.zoom.us/j/85012345678?pwd=dGhpcyBpcyBub3QgYSByZWFsIHBhc3Njb2Rl.1"
ZOOM_DIAL_INS = (
    "tel:+16469313860,,85012345678#,,,,*123456#",
    "tel:+13017158592,,85012345678#,,,,*123456#",
    "tel:+13052241968",
)

ZOOM_PLAIN = f"""Grace Hopper is inviting you to a scheduled Zoom meeting.

Topic: Design review
Time: Apr 1, 2026 10:00 AM Eastern Time (US and Canada)

Join Zoom Meeting
{ZOOM_JOIN}

Meeting ID: 850 1234 5678
Passcode: 123456

---

One tap mobile
+16469313860,,85012345678#,,,,*123456# US (New York)
+13017158592,,85012345678#,,,,*123456# US (Washington DC)

---

Dial by your location
• +1 646 931 3860 US (New York)
• +1 301 715 8592 US (Washington DC)
• +1 305 224 1968 US

Meeting ID: 850 1234 5678
Passcode: 123456

Find your local number: https://us02web.zoom.us/u/kbXyZ12

Join by SIP
• 85012345678@zoomcrc.com

Join instructions
https://us02web.zoom.us/meetings/85012345678/invitations?signature=AbCdEf
"""

ZOOM_HTML = f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<style>p.MsoNormal {{margin:0in; font-family:"Calibri",sans-serif;}} a:link {{color:#0563C1}}</style></head>
<body lang="EN-US"><div class="WordSection1">
<p class="MsoNormal">Hi there,<o:p></o:p></p>
<p class="MsoNormal">Grace Hopper is inviting you to a scheduled Zoom meeting.<o:p></o:p></p>
<p class="MsoNormal"><b>Join Zoom Meeting</b><br>
<a href="{ZOOM_JOIN}">{ZOOM_JOIN}</a><o:p></o:p></p>
<p class="MsoNormal">Meeting ID: 850 1234 5678<br>Passcode: 123456<o:p></o:p></p>
<p class="MsoNormal">One tap mobile<br>
<a href="tel:+16469313860,,85012345678#,,,,*123456#">+16469313860,,85012345678#,,,,*123456#</a> US (New York)<br>
<a href="tel:+13017158592,,85012345678#,,,,*123456#">+13017158592,,85012345678#,,,,*123456#</a> US (Washington DC)</p>
<p class="MsoNormal">Dial by your location<br>&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp; +1 646 931 3860 US (New York)<br>
&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp; +1 305 224 1968 US</p>
<p class="MsoNormal">Find your local number: <a href="https://us02web.zoom.us/u/kbXyZ12">https://us02web.zoom.us/u/kbXyZ12</a></p>
</div></body></html>"""

TEAMS_HTML = """<html><body>
<div style="width:100%;height: 20px;"><span style="white-space:nowrap;color:#5F5F5F;opacity:.36;">________________________________________________________________________________</span></div>
<div class="me-email-text" lang="en-US" style="color:#252424;font-family:'Segoe UI','Helvetica Neue',Helvetica,Arial,sans-serif;">
<div style="margin-top: 24px; margin-bottom: 20px;"><span style="font-size: 24px; color:#252424">Microsoft Teams meeting</span></div>
<div style="margin-bottom: 20px;"><div style="margin-top:0px; margin-bottom:0px; font-weight:bold"><span style="font-size: 14px; color:#252424">Join on your computer, mobile app or room device</span></div>
<a class="me-email-headline" style="font-size: 14px;text-decoration: underline;color: #6264a7;" href="{href}" target="_blank" rel="noreferrer noopener">Click here to join the meeting</a></div>
<div style="margin-bottom: 20px; margin-top: 20px;"><div style="margin-bottom: 4px"><span data-tid="meeting-code" style="font-size: 14px; color:#252424;">Meeting ID: <span style="font-size:16px; color:#252424;">230 845 772 169</span></span><br>
<span style="font-size: 14px; color:#252424;"> Passcode: </span><span style="font-size:16px; color:#252424;"> 9Qp4Zx </span></div>
<div style="font-size: 14px;"><a class="me-email-link" style="font-size: 14px;text-decoration: underline;color: #6264a7;" target="_blank" href="https://www.microsoft.com/en-us/microsoft-teams/download-app" rel="noreferrer noopener">Download Teams</a> | <a class="me-email-link" style="font-size: 14px;text-decoration: underline;color: #6264a7;" target="_blank" href="https://www.microsoft.com/microsoft-teams/join-a-meeting" rel="noreferrer noopener">Join on the web</a></div></div>
<div style="margin-bottom: 4px; margin-top: 20px;"><span style="font-size: 14px; color:#252424; font-weight:bold">Or call in (audio only)</span></div>
<div style="margin-bottom: 0px;"><a class="me-email-link" style="font-size: 14px;" href="tel:+13238494874,,689348921#" target="_blank">+1 323-849-4874,,689348921#</a> <span style="font-size: 12px; color:#252424;">&nbsp;&nbsp;United States, Los Angeles</span></div>
<div style="margin-bottom: 4px;"><span style="font-size: 12px; color:#252424;">Phone Conference ID: </span><span style="font-size: 14px; color:#252424;">689 348 921# </span></div>
<div style="margin-bottom: 12px;"><a class="me-email-link" style="font-size: 14px;" href="https://dialin.teams.microsoft.com/8551f4c1-bea3-441a-8738-69aa517a91c5?id=689348921" target="_blank">Find a local number</a> | <a class="me-email-link" style="font-size: 14px;" href="https://dialin.teams.microsoft.com/usp/pstnconferencing" target="_blank">Reset PIN</a></div>
<div style="margin-top: 20px; margin-bottom: 24px;"><a class="me-email-link" style="font-size: 14px;" target="_blank" href="https://aka.ms/JoinTeamsMeeting?omkt=en-US">Learn More</a> | <a class="me-email-link" style="font-size: 14px;" target="_blank" href="https://teams.microsoft.com/meetingOptions/?organizerId=37c7b3e3-2b5f-4d80-8e9f-1f3f3b5e1e7c&amp;tenantId=72f988bf-86f1-41af-91ab-2d7cd011db47&amp;threadId=19_meeting_NjA5ZTY2ZDYtMjhkOS00YmY2LTk3YjItNWM0ZDBlZjE5MzBh@thread.v2&amp;messageId=0&amp;language=en-US">Meeting options</a></div>
</div>
<div style="font-size: 14px; margin-bottom: 4px;font-family:'Segoe UI','Helvetica Neue',Helvetica,Arial,sans-serif;"></div>
<div style="width:100%;height: 20px;"><span style="white-space:nowrap;color:#5F5F5F;opacity:.36;">________________________________________________________________________________</span></div>
</body></html>"""

TEAMS_PLAIN_SAFELINKS = f"""Hi all, agenda in the Loop page.

________________________________________________________________________________
Microsoft Teams meeting
Join on your computer, mobile app or room device
Click here to join the meeting<{SAFELINK}>
Meeting ID: 230 845 772 169
Passcode: 9Qp4Zx
Download Teams<https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.microsoft.com%2Fen-us%2Fmicrosoft-teams%2Fdownload-app&data=05%7C02&sdata=x&reserved=0> | Join on the web<https://www.microsoft.com/microsoft-teams/join-a-meeting>
Or call in (audio only)
+1 323-849-4874,,689348921#<tel:+13238494874,,689348921#>   United States, Los Angeles
Phone Conference ID: 689 348 921#
Find a local number<https://dialin.teams.microsoft.com/8551f4c1?id=689348921> | Reset PIN<https://dialin.teams.microsoft.com/usp/pstnconferencing>
Learn More<https://aka.ms/JoinTeamsMeeting> | Meeting options<https://teams.microsoft.com/meetingOptions/?organizerId=37c7b3e3&tenantId=72f988bf&threadId=19_meeting_NjA5@thread.v2&messageId=0&language=en-US>
________________________________________________________________________________
"""

TEAMS_OLD_PLAIN = f"""
Join Microsoft Teams Meeting<{TEAMS_JOIN}>
+1 323-849-4874<tel:+1%20323-849-4874,,123456789#>   United States, Los Angeles (Toll)
Conference ID: 123 456 789#
Local numbers<https://dialin.teams.microsoft.com/8551f4c1?id=123456789> | Reset PIN<https://mysettings.lync.com/pstnconferencing> | Learn more about Teams<https://aka.ms/JoinTeamsMeeting> | Meeting options<https://teams.microsoft.com/meetingOptions/?organizerId=37c7b3e3&tenantId=72f988bf>
"""

MEET_PLAIN = """Design review for the Q3 roadmap.

-::~:~::~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~::~:~::-
Join with Google Meet: https://meet.google.com/abc-defg-hij

Join by phone
(US) +1 650-555-0134 PIN: 123 456 789#

More phone numbers: https://tel.meet/abc-defg-hij?pin=1234567890123

Learn more about Meet at: https://support.google.com/a/users/answer/9282720

Please do not edit this section.
-::~:~::~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~::~:~::-
"""

MEET_BIDI = (
    "Google Meet joining info\nVideo call link: https://meet.google.com/xyz-abcd-efg\n"
    "Or dial: \u202a(US) +1 216-555-0199\u202c PIN: \u202a987 654 321\u202c#\n"
    "More phone numbers: https://tel.meet/xyz-abcd-efg?pin=9876543211234\n"
)

MEET_HTML = """<span>Weekly sync</span><br><br>-::~:~::~:~:~:~:~:~::-<br>
<b>Join with Google Meet</b>: <a href="https://meet.google.com/abc-defg-hij?hs=224" id="meet_link">meet.google.com/abc-defg-hij</a><br><br>
<b>Join by phone</b><br>(US) <a href="tel:+1-650-555-0134;123456789#">+1 650-555-0134</a> PIN: 123 456 789#<br><br>
Learn more about Meet at: <a href="https://support.google.com/a/users/answer/9282720">https://support.google.com/a/users/answer/9282720</a><br><br>
Please do not edit this section.<br>-::~:~::~:~:~:~:~:~::-"""

WEBEX_PLAIN = """Grace Hopper invites you to join this Webex meeting.

Join meeting https://acme.webex.com/acme/j.php?MTID=m3f1c2a8e9b0d4c5f6a7b8c9d0e1f2a3b

More ways to join:

Meeting number (access code): 2550 123 4567
Meeting password: Kp3Xz8mQ

Tap to join from a mobile device (attendees only)
+1-415-655-0001,,25501234567## US Toll

Join by phone
+1-415-655-0001 US Toll
Access code: 2550 123 4567

Join by video system, application or Skype for Business
Dial 25501234567@acme.webex.com
You can also dial 173.243.2.68 and enter your meeting number.

If you are a host, click here to view host information.
Need help? Go to https://help.webex.com
"""

WEBEX_HTML = """<table width="747" style="width:747px;" border="0" cellspacing="0" cellpadding="0"><tbody>
<tr><td style="font-size:14px;color:#121212">Grace Hopper invites you to join this Webex meeting.</td></tr>
<tr><td><table><tr><td style="font-size:14px;">Meeting number (access code):</td><td style="font-size:14px;">2551 987 6543</td></tr>
<tr><td style="font-size:14px;">Meeting password:</td><td style="font-size:14px;">Rk8mQ2vT</td></tr></table></td></tr>
<tr><td><table><tr><td style="background-color:#00823B;border-radius:25px;"><a href="https://acme.webex.com/acme/j.php?MTID=m9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d" style="color:#FFFFFF;font-size:20px;text-decoration:none;">Join meeting</a></td></tr></table></td></tr>
<tr><td style="font-size:14px;"><b>Join by phone</b><br><a href="tel:%2B1-415-655-0001,,,25519876543%23%23" style="color:#005E7D">+1-415-655-0001</a> United States Toll<br></td></tr>
<tr><td style="font-size:14px;">Need help? Go to <a href="https://help.webex.com">https://help.webex.com</a></td></tr>
</tbody></table>"""

BLUEJEANS_PLAIN = """To join the Meeting:
https://bluejeans.com/123456789/4321

To join via Room System:
Video Conferencing System: bjn.vc -or-199.48.152.152
Meeting ID : 123456789
Participant Passcode: 4321

To join via phone :
1)  Dial:
\t+1.408.740.7256 (United States)
\t+1.888.240.2560 (US Toll Free)
\t(see all numbers - https://www.bluejeans.com/premium-numbers)
2)  Enter Meeting ID: 123456789
3)  Press #
"""

GOTO_PLAIN = """Please join my meeting from your computer, tablet or smartphone.
https://global.gotomeeting.com/join/123456789

You can also dial in using your phone.
United States: +1 (571) 317-3122

Access Code: 123-456-789

New to GoToMeeting? Get the app now and be ready when your first meeting starts: https://global.gotomeeting.com/install/123456789
"""

GOTO_NEW = """Design review
Please join my meeting from your computer, tablet or smartphone.
https://meet.goto.com/987654321

You can also dial in using your phone.
Access Code: 987-654-321
United States: +1 (224) 501-3412

Get the app now and be ready when your first meeting starts:
https://meet.goto.com/install
"""

CHIME_PLAIN = """Amazon Chime meeting
Click to join the meeting: https://chime.aws/1234567890
Meeting ID: 1234 56 7890

A headset is recommended or you may use your computer's microphone and speakers.

Call in using your phone:
United States Toll-Free (1): +1 855-552-4463
Meeting ID: 1234 56 7890

One-click Mobile Dial-in (United States (1)): +1 206-462-5569,,,1234567890#
"""

SKYPE_FOR_BUSINESS = """
.........................................................................................................................................
Join Skype Meeting<https://meet.lync.com/acme/grace/4F8KJ2LM>
Trouble Joining? Try Skype Web App<https://meet.lync.com/acme/grace/4F8KJ2LM?sl=1>
Join by phone

+1 (425) 555-0100 (Redmond)                  English (United States)

Find a local number<https://dialin.lync.com/3e6b2a1c-1234-4f1e-9d8e-1a2b3c4d5e6f>

Conference ID: 12345678
Forgot your dial-in PIN?<https://dialin.lync.com/3e6b2a1c>|Help<https://o15.officeredir.microsoft.com/r/rlidLync15?clid=1033>
.........................................................................................................................................
"""

SIGNATURE = """Thanks,
--
Grace Hopper | VP Engineering | Acme Corp.
https://www.linkedin.com/in/gracehopper
Mobile: +1 555 010 9999
This email and any attachments are confidential.
"""


@dataclass(frozen=True)
class Case:
    """One event's location and description, and what detection must find in them."""

    name: str
    description: str | None = None
    location: str | None = None
    service: str = NO_CONFERENCE
    join_url: object = ANY
    meeting_id: object = ANY
    passcode: object = ANY
    dial_ins: object = ANY
    source: object = ANY
    extra: dict[str, object] = field(default_factory=dict)


def zoom(name: str, body: str, url: str, meeting_id: object = ANY, passcode: object = ANY, **more: object) -> Case:
    return Case(name, body, service="ZOOM", join_url=url, meeting_id=meeting_id, passcode=passcode, **more)  # type: ignore[arg-type]


CASES = [
    # --- Zoom ----------------------------------------------------------------------------------
    zoom("zoom invitation, plain text", ZOOM_PLAIN, ZOOM_JOIN, "85012345678", "123456", dial_ins=ZOOM_DIAL_INS[:2] + (
        "tel:+13052241968",), source="description"),
    zoom("zoom invitation, Outlook HTML", ZOOM_HTML, ZOOM_JOIN, "85012345678", "123456", dial_ins=ZOOM_DIAL_INS),
    zoom(
        "zoom vanity domain",
        "Join Zoom Meeting\nhttps://acme.zoom.us/j/91234567890?pwd=Q2xhc3NpZmllZFRva2VuMTIzNDU2Nzg5MA.1\n\n"
        "Meeting ID: 912 3456 7890\nPasscode: 8Hk2pQ\n",
        "https://acme.zoom.us/j/91234567890?pwd=Q2xhc3NpZmllZFRva2VuMTIzNDU2Nzg5MA.1", "91234567890", "8Hk2pQ",
    ),
    zoom(
        "zoom for government",
        "ZoomGov meeting for the grant review\nhttps://acme.zoomgov.com/j/1601234567?pwd=R0hQc2t3bWZ2c0ZqT1pHd2pXQT09\n"
        "Meeting ID: 160 123 4567\nPasscode: 552211\nOne tap mobile\n+16692545252,,1601234567#,,,,*552211# US (San Jose)\n",
        "https://acme.zoomgov.com/j/1601234567?pwd=R0hQc2t3bWZ2c0ZqT1pHd2pXQT09", "1601234567", "552211",
        dial_ins=("tel:+16692545252,,1601234567#,,,,*552211#",),
    ),
    zoom(
        "zoom gov apex domain", "Join: https://www.zoomgov.com/j/1619876543", "https://www.zoomgov.com/j/1619876543",
        "1619876543",
    ),
    zoom(
        "zoommtg app link",
        "Open in the app: zoommtg://zoom.us/join?action=join&confno=85012345678&pwd=123456",
        "zoommtg://zoom.us/join?action=join&confno=85012345678&pwd=123456", "85012345678", "123456",
    ),
    zoom(
        "zoom personal meeting room", "My PMI: https://zoom.us/my/grace.hopper (always open)",
        "https://zoom.us/my/grace.hopper", None,
    ),
    zoom(
        "zoom webinar",
        "You are invited to a Zoom webinar.\nJoin from a PC, Mac, iPad, or Android:\n"
        "https://us06web.zoom.us/w/81234567890?tk=Xy12AbCdEf.DQMAAAAS&pwd=QWxwaGFCcmF2b0NoYXJsaWVEZWx0YQ\n"
        "Webinar ID: 812 3456 7890\nPasscode: 2026\n",
        "https://us06web.zoom.us/w/81234567890?tk=Xy12AbCdEf.DQMAAAAS&pwd=QWxwaGFCcmF2b0NoYXJsaWVEZWx0YQ",
        "81234567890", "2026",
    ),
    zoom(
        "zoom, older Password label",
        "Join Zoom Meeting https://zoom.us/j/5551234567\n\nMeeting ID: 555 123 4567\nPassword: 482913\n",
        "https://zoom.us/j/5551234567", "5551234567", "482913",
    ),
    zoom(
        "zoom link with a typeable pwd", "https://zoom.us/j/5551234567?pwd=8842",
        "https://zoom.us/j/5551234567?pwd=8842", "5551234567", "8842",
    ),
    zoom(
        "zoom link with a hashed pwd is no passcode",
        "https://us05web.zoom.us/j/5551234567?pwd=bXlQYXNzY29kZUlzTm90SGVyZTEyMzQ1Ng.1",
        "https://us05web.zoom.us/j/5551234567?pwd=bXlQYXNzY29kZUlzTm90SGVyZTEyMzQ1Ng.1", "5551234567", None,
    ),
    zoom(
        "zoom registration link", "Register in advance: https://us02web.zoom.us/meeting/register/tZ0pc-2qrjsvHdE2Xz",
        "https://us02web.zoom.us/meeting/register/tZ0pc-2qrjsvHdE2Xz", None,
    ),
    zoom("zoom web client link", "Browser: https://zoom.us/wc/join/5551234567", "https://zoom.us/wc/join/5551234567", "5551234567"),
    zoom(
        "zoom, HTML-escaped ampersand in plain text",
        "Link: https://zoom.us/j/5551234567?pwd=Ab12&amp;from=addon",
        "https://zoom.us/j/5551234567?pwd=Ab12&from=addon", "5551234567", "Ab12",
    ),
    zoom("zoom in angle brackets", "Join Zoom Meeting<https://zoom.us/j/5551234567>.", "https://zoom.us/j/5551234567"),
    zoom("zoom with trailing full stop", "The link is https://zoom.us/j/5551234567.", "https://zoom.us/j/5551234567"),
    zoom(
        "zoom in parentheses and a comma",
        "Call (https://zoom.us/j/5551234567), or phone me.", "https://zoom.us/j/5551234567",
    ),
    zoom("zoom as a markdown link", "[Join Zoom](https://zoom.us/j/5551234567)", "https://zoom.us/j/5551234567"),
    zoom(
        "zoom in Google Calendar HTML behind a google.com/url redirect",
        '<a href="https://www.google.com/url?q=https://us02web.zoom.us/j/85012345678?pwd%3D4x7k&amp;sa=D&amp;source=calendar'
        '&amp;ust=1711000000000000&amp;usg=AOvVaw0abc" target="_blank">https://us02web.zoom.us/j/85012345678?pwd=4x7k</a>',
        "https://us02web.zoom.us/j/85012345678?pwd=4x7k", "85012345678", "4x7k",
    ),
    zoom(
        "zoom passcode from the one-tap line only",
        "Join: https://zoom.us/j/5551234567\nOne tap mobile\n+13462487799,,5551234567#,,,,*998877# US (Houston)\n",
        "https://zoom.us/j/5551234567", "5551234567", "998877", dial_ins=("tel:+13462487799,,5551234567#,,,,*998877#",),
    ),
    zoom(
        "zoom.com domain", "Join at https://app.zoom.com/j/93456789012 please", "https://app.zoom.com/j/93456789012",
        "93456789012",
    ),
    Case(
        "zoom link in the location", location="https://us02web.zoom.us/j/85012345678", service="ZOOM",
        join_url="https://us02web.zoom.us/j/85012345678", meeting_id="85012345678", source="location",
    ),
    Case(
        "zoom link in a location with a room name", location="Room 4B; https://acme.zoom.us/j/91234567890",
        service="ZOOM", join_url="https://acme.zoom.us/j/91234567890", source="location",
    ),
    # --- Microsoft Teams -----------------------------------------------------------------------
    Case(
        "teams invitation, Outlook HTML", TEAMS_HTML.replace("{href}", TEAMS_JOIN), service="TEAMS", join_url=TEAMS_JOIN,
        meeting_id="230845772169", passcode="9Qp4Zx", dial_ins=("tel:+13238494874,,689348921#",),
    ),
    Case(
        "teams invitation, Outlook HTML with safe links", TEAMS_HTML.replace("{href}", SAFELINK.replace("&", "&amp;")),
        service="TEAMS", join_url=TEAMS_JOIN, meeting_id="230845772169", passcode="9Qp4Zx",
    ),
    Case(
        "teams invitation, Outlook plain text with safe links", TEAMS_PLAIN_SAFELINKS, service="TEAMS", join_url=TEAMS_JOIN,
        meeting_id="230845772169", passcode="9Qp4Zx", dial_ins=("tel:+13238494874,,689348921#",),
    ),
    Case(
        "teams invitation, older format with a conference id", TEAMS_OLD_PLAIN, service="TEAMS", join_url=TEAMS_JOIN,
        meeting_id=None, passcode=None, dial_ins=("tel:+13238494874,,123456789#",),
    ),
    Case(
        "teams for government (GCC High)",
        "Microsoft Teams meeting\nJoin on your computer or mobile app\nClick here to join the meeting"
        "<https://gov.teams.microsoft.us/l/meetup-join/19%3ameeting_ZGQ1%40thread.v2/0?context=%7b%22Tid%22%3a%22a1%22%7d>",
        service="TEAMS",
        join_url="https://gov.teams.microsoft.us/l/meetup-join/19%3ameeting_ZGQ1%40thread.v2/0?context=%7b%22Tid%22%3a%22a1%22%7d",
    ),
    Case(
        "teams free (consumer) meeting", "Join the call: https://teams.live.com/meet/9387654321234?p=AbCdEfGh12",
        service="TEAMS", join_url="https://teams.live.com/meet/9387654321234?p=AbCdEfGh12", meeting_id="9387654321234",
        passcode="AbCdEfGh12",
    ),
    Case(
        "teams short meeting link",
        '<p>Microsoft Teams <a href="https://aka.ms/JoinTeamsMeeting">Need help?</a></p>'
        '<p><a href="https://teams.microsoft.com/meet/23456789012345?p=Xy7Zq2Wv">Join the meeting now</a></p>'
        "<p>Meeting ID: 234 567 890 123 45<br>Passcode: Xy7Zq2Wv</p>",
        service="TEAMS", join_url="https://teams.microsoft.com/meet/23456789012345?p=Xy7Zq2Wv", meeting_id="23456789012345",
        passcode="Xy7Zq2Wv",
    ),
    Case(
        "teams desktop deep link", "Open in Teams: msteams:/l/meetup-join/19%3ameeting_Zm9v%40thread.v2/0?context=%7b%7d",
        service="TEAMS", join_url="msteams:/l/meetup-join/19%3ameeting_Zm9v%40thread.v2/0?context=%7b%7d",
    ),
    Case(
        "teams launcher link",
        "https://teams.microsoft.com/dl/launcher/launcher.html?url=%2F_%23%2Fl%2Fmeetup-join%2F19%3Ameeting_Zm9v%40thread.v2"
        "%2F0&type=meetup-join&directDl=true&msLaunch=true&enableMobilePage=true",
        service="TEAMS",
    ),
    Case(
        "teams link in the new web client",
        "Join: https://teams.microsoft.com/v2/?meetingjoin=true#/l/meetup-join/19:meeting_Zm9v@thread.v2/0?anon=true",
        service="TEAMS", join_url="https://teams.microsoft.com/v2/?meetingjoin=true#/l/meetup-join/19:meeting_Zm9v@thread.v2/0?anon=true",
    ),
    # --- Google Meet ---------------------------------------------------------------------------
    Case(
        "meet invitation, Google Calendar plain text", MEET_PLAIN, service="GOOGLE_MEET",
        join_url="https://meet.google.com/abc-defg-hij", meeting_id="abc-defg-hij", passcode="123456789",
        dial_ins=("tel:+16505550134,,123456789#",),
    ),
    Case(
        "meet joining info with bidi marks", MEET_BIDI, service="GOOGLE_MEET", join_url="https://meet.google.com/xyz-abcd-efg",
        meeting_id="xyz-abcd-efg", passcode="987654321", dial_ins=("tel:+12165550199,,987654321#",),
    ),
    Case(
        "meet invitation, Google Calendar HTML", MEET_HTML, service="GOOGLE_MEET",
        join_url="https://meet.google.com/abc-defg-hij?hs=224", meeting_id="abc-defg-hij", passcode="123456789",
        dial_ins=("tel:+16505550134,,123456789#",),
    ),
    Case(
        "meet link without a scheme",
        "Meeting link\nmeet.google.com/kpq-rstu-vwx\n\nJoin by phone\n+1 650-555-0134\nPIN: 445 566 778#\n",
        service="GOOGLE_MEET", join_url="https://meet.google.com/kpq-rstu-vwx", meeting_id="kpq-rstu-vwx",
        passcode="445566778", dial_ins=("tel:+16505550134",),
    ),
    Case(
        "meet nickname lookup", "Standup room: https://meet.google.com/lookup/team-standup", service="GOOGLE_MEET",
        join_url="https://meet.google.com/lookup/team-standup", meeting_id=None,
    ),
    Case("meet short link", "g.co/meet/design-review", service="GOOGLE_MEET", join_url="https://g.co/meet/design-review"),
    # --- Webex ---------------------------------------------------------------------------------
    Case(
        "webex invitation, plain text", WEBEX_PLAIN, service="WEBEX",
        join_url="https://acme.webex.com/acme/j.php?MTID=m3f1c2a8e9b0d4c5f6a7b8c9d0e1f2a3b", meeting_id="25501234567",
        passcode="Kp3Xz8mQ", dial_ins=("tel:+14156550001,,25501234567##",),
    ),
    Case(
        "webex invitation, HTML", WEBEX_HTML, service="WEBEX",
        join_url="https://acme.webex.com/acme/j.php?MTID=m9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d", meeting_id="25519876543",
        passcode="Rk8mQ2vT", dial_ins=("tel:+14156550001,,,25519876543##",),
    ),
    Case(
        "webex personal room", "My personal room: https://acme.webex.com/meet/grace.hopper", service="WEBEX",
        join_url="https://acme.webex.com/meet/grace.hopper",
    ),
    Case(
        "webex join service link",
        "https://acme.webex.com/wbxmjs/joinservice/sites/acme/meeting/download/4c0a1b2c3d4e5f60718293a4b5c6d7e8?siteurl=acme",
        service="WEBEX",
    ),
    # --- the others ----------------------------------------------------------------------------
    Case(
        "whereby room", "Join me on Whereby: https://whereby.com/grace-team", service="WHEREBY",
        join_url="https://whereby.com/grace-team",
    ),
    Case(
        "whereby company room", "https://acme.whereby.com/design-review?roomKey=eyJtZWV0aW5nSWQ", service="WHEREBY",
    ),
    Case("around room", "Around: https://meet.around.co/r/k7x9qplm", service="AROUND", join_url="https://meet.around.co/r/k7x9qplm"),
    Case(
        "bluejeans invitation", BLUEJEANS_PLAIN, service="BLUEJEANS", join_url="https://bluejeans.com/123456789/4321",
        meeting_id="123456789", passcode="4321", dial_ins=("tel:+14087407256", "tel:+18882402560"),
    ),
    Case(
        "doxy.me waiting room", "Please check in for your telehealth visit: https://doxy.me/drsmith", service="DOXY_ME",
        join_url="https://doxy.me/drsmith",
    ),
    Case("skype meet now", "Join Skype meeting https://join.skype.com/aBcD3fGh1JkL", service="SKYPE"),
    Case(
        "skype for business invitation", SKYPE_FOR_BUSINESS, service="SKYPE",
        join_url="https://meet.lync.com/acme/grace/4F8KJ2LM", dial_ins=("tel:+14255550100",),
    ),
    Case(
        "gotomeeting invitation", GOTO_PLAIN, service="GOTO_MEETING", join_url="https://global.gotomeeting.com/join/123456789",
        meeting_id="123456789", dial_ins=("tel:+15713173122",),
    ),
    Case(
        "goto meeting, new domain", GOTO_NEW, service="GOTO_MEETING", join_url="https://meet.goto.com/987654321",
        meeting_id="987654321",
    ),
    Case("goto app link", "https://app.goto.com/meeting/456789123", service="GOTO_MEETING", meeting_id="456789123"),
    Case("jitsi meet", "Video: https://meet.jit.si/CalmeshDesignReview", service="JITSI", join_url="https://meet.jit.si/CalmeshDesignReview"),
    Case("jitsi on 8x8", "https://8x8.vc/vpaas-magic-cookie-1234abcd/DesignReview", service="JITSI"),
    Case("self-hosted jitsi", "Room: https://jitsi.example.org/Standup", service="JITSI", join_url="https://jitsi.example.org/Standup"),
    Case(
        "amazon chime invitation", CHIME_PLAIN, service="CHIME", join_url="https://chime.aws/1234567890", meeting_id="1234567890",
        dial_ins=("tel:+18555524463", "tel:+12064625569,,,1234567890#"),
    ),
    Case(
        "chime app link", "https://app.chime.aws/meetings/?pin=1234567890", service="CHIME", meeting_id="1234567890",
    ),
    Case(
        "slack huddle", "Huddle in #design: https://app.slack.com/huddle/T01ABCDEF/C02GHIJKL", service="SLACK_HUDDLE",
        join_url="https://app.slack.com/huddle/T01ABCDEF/C02GHIJKL",
    ),
    Case("discord invite", "Community call on https://discord.gg/calmesh", service="DISCORD"),
    Case(
        "ringcentral video", "Join: https://v.ringcentral.com/join/123456789\nMeeting ID: 123 456 789", service="RINGCENTRAL",
        meeting_id="123456789",
    ),
    Case("vonage meetings", "https://meetings.vonage.com/123456789", service="VONAGE", meeting_id="123456789"),
    Case("lifesize", "Lifesize call: https://call.lifesizecloud.com/1234567", service="LIFESIZE", meeting_id="1234567"),
    Case(
        "facetime link", "FaceTime: https://facetime.apple.com/join#v=1&p=AbCdEfGhIj&k=KlMnOpQrSt", service="FACETIME",
    ),
    Case("gather space", "https://app.gather.town/app/AbCdEf123/acme-office", service="GATHER"),
    # --- no conference: "not a Zoom meeting" ---------------------------------------------------
    Case("no link at all", "Quarterly planning in room 4B. Bring your laptop and the Q3 numbers."),
    Case("nothing anywhere"),
    Case("blank description", "   \n\t "),
    Case("zoom marketing links", "New to Zoom? Download it at https://zoom.us/download and test at https://zoom.us/test."),
    Case("zoom product page", "See https://explore.zoom.us/en/products/meetings/ for the new features"),
    Case("zoom support article", "Help: https://support.zoom.us/hc/en-us/articles/201362193-Joining-a-meeting"),
    Case("zoom cloud recording", "Recording of last week: https://us02web.zoom.us/rec/share/AbCdEf12-GhIj"),
    Case("plain web link", "Agenda: https://docs.example.com/agenda-q3 and https://www.example.org/"),
    Case("email signature with linkedin", SIGNATURE),
    Case(
        "mailto links in HTML",
        '<p>Questions? Write to <a href="mailto:events@zoom.us?subject=Join%20https://zoom.us">events@zoom.us</a></p>',
    ),
    Case("email address on a zoom domain", "Contact grace@acme.zoom.us for the link."),
    Case(
        "teams help and options links only",
        "Learn More<https://aka.ms/JoinTeamsMeeting> | Meeting options<https://teams.microsoft.com/meetingOptions/?organizerId=1>",
    ),
    Case("outlook location naming teams", location="Microsoft Teams Meeting"),
    Case("meet new-meeting link", "Start an instant meeting at https://meet.google.com/new"),
    Case("webex download page", "Install first: https://www.webex.com/downloads.html"),
    Case("doxy.me pricing page", "https://doxy.me/en/pricing"),
    Case("whereby marketing page", "https://whereby.com/information/pricing/"),
    Case("goto install link", "Get the app now: https://meet.goto.com/install"),
    Case("slack channel link", "Notes in https://acme.slack.com/archives/C02GHIJKL/p1711000000000"),
    Case("phone bridge without a link", "Dial-in: +1 555 0100 PIN: 1234#\nMeeting ID: 555 0100"),
    Case(
        "HTML without a link",
        "<html><head><style>.x{background:url(https://zoom.us/j/1)}</style><script>var u='https://zoom.us/j/2';</script>"
        "</head><body><p>Lunch &amp; learn</p></body></html>",
    ),
]


def check(found: DetectedConference, case: Case) -> None:
    assert found.service == case.service
    if case.service == NO_CONFERENCE:
        assert found == DetectedConference() and not found.found and found.conference_data() is None
        return
    for name in ("join_url", "meeting_id", "passcode", "source"):
        wanted = getattr(case, name)
        if wanted is not ANY:
            assert getattr(found, name) == wanted, name
    if case.dial_ins is not ANY:
        assert found.dial_ins == case.dial_ins
    assert found.join_url is not None and found.source in ("description", "location")


def test_the_table_has_enough_realistic_bodies() -> None:
    assert len(CASES) >= 60
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_detection_in_invitation_bodies(case: Case) -> None:
    check(detect_conference(description=case.description, location=case.location), case)


@pytest.mark.parametrize("case", [c for c in CASES if c.description and c.service != NO_CONFERENCE], ids=lambda c: c.name)
def test_the_same_body_in_the_location_is_found_there(case: Case) -> None:
    found = detect_conference(location=case.description)
    assert (found.service, found.source) == (case.service, "location")


# --- precedence -----------------------------------------------------------------------------

MEET_FIELD = ConferenceData(
    "GOOGLE_MEET", "https://meet.google.com/abc-defg-hij", "abc-defg-hij", dial_ins=("tel:+1-650-555-0134,,123456789#",)
)


def test_the_description_link_wins_over_the_conference_field() -> None:
    found = detect_conference(conference=MEET_FIELD, description="Let's use Zoom instead: https://zoom.us/j/5551234567")
    assert (found.service, found.join_url, found.source) == ("ZOOM", "https://zoom.us/j/5551234567", "description")
    assert found.dial_ins == ()  # the Meet's dial-ins belong to another meeting


def test_the_description_link_wins_over_the_location_too() -> None:
    found = detect_conference(location="https://zoom.us/j/5551234567", description="https://meet.jit.si/Room")
    assert (found.service, found.source) == ("JITSI", "description")


def test_the_location_is_used_when_the_description_has_no_link() -> None:
    found = detect_conference(conference=MEET_FIELD, location="https://zoom.us/j/5551234567", description=SIGNATURE)
    assert (found.service, found.source) == ("ZOOM", "location")


def test_the_conference_field_is_used_when_neither_text_has_a_link() -> None:
    found = detect_conference(conference=MEET_FIELD, location="Room 4B", description="Agenda: https://docs.example.com/q3")
    assert found == DetectedConference(
        "GOOGLE_MEET", "https://meet.google.com/abc-defg-hij", "abc-defg-hij", None, ("tel:+1-650-555-0134,,123456789#",),
        "conference",
    )


def test_the_same_meeting_in_the_description_is_completed_by_the_conference_field() -> None:
    field = ConferenceData("ZOOM", "https://zoom.us/j/85012345678", "85012345678", "123456", ("tel:+16469313860,,85012345678#",))
    found = detect_conference(conference=field, description=f"Join here: {ZOOM_JOIN}")
    assert (found.join_url, found.source) == (ZOOM_JOIN, "description")
    assert (found.meeting_id, found.passcode, found.dial_ins) == ("85012345678", "123456", ("tel:+16469313860,,85012345678#",))


def test_a_conference_field_link_of_an_unknown_service_is_custom() -> None:
    found = detect_conference(conference=ConferenceData(join_url="https://video.example.com/rooms/42"))
    assert (found.service, found.join_url, found.source) == ("CUSTOM", "https://video.example.com/rooms/42", "conference")
    named = detect_conference(conference=ConferenceData("Acme Rooms", "https://video.example.com/rooms/42"))
    assert named.service == "Acme Rooms" and named.service_name == "Acme Rooms"


def test_a_conference_field_of_dial_ins_only_is_a_phone_conference() -> None:
    found = detect_conference(conference=ConferenceData(dial_ins=("tel:+1-555-0100,,42#",)))
    assert (found.service, found.join_url, found.dial_ins) == ("PHONE", None, ("tel:+1-555-0100,,42#",))


def test_a_pending_meet_stays_a_meet_without_a_link() -> None:
    found = detect_conference(conference=ConferenceData("google_meet"))
    assert (found.service, found.join_url, found.source) == ("GOOGLE_MEET", None, "conference")
    assert found.conference_data() == ConferenceData("GOOGLE_MEET")


def test_a_conference_field_link_is_named_by_its_host_and_unwrapped() -> None:
    found = detect_conference(conference=ConferenceData(join_url=SAFELINK))
    assert (found.service, found.join_url) == ("TEAMS", TEAMS_JOIN)
    assert detect_conference(conference=ConferenceData(join_url="https://acme.zoom.us/j/123")).meeting_id == "123"


def test_nothing_says_not_a_zoom_meeting() -> None:
    found = detect_conference(conference=ConferenceData(), location="Room 4B", description=SIGNATURE)
    assert found.service == NO_CONFERENCE == "none" and found.service_name is None and found.source is None


# --- Meet and Google accounts ---------------------------------------------------------------


def test_a_meet_link_opens_with_the_given_google_account() -> None:
    found = detect_conference(conference=MEET_FIELD, account_email="grace@example.com")
    assert found.join_url == "https://meet.google.com/abc-defg-hij?authuser=grace@example.com"
    in_text = detect_conference(description=MEET_HTML, account_email="grace@example.com")
    assert in_text.join_url == "https://meet.google.com/abc-defg-hij?hs=224&authuser=grace@example.com"


def test_the_account_replaces_an_authuser_the_link_had() -> None:
    found = detect_conference(description="https://meet.google.com/abc-defg-hij?authuser=0", account_email="grace+work@example.com")
    assert found.join_url == "https://meet.google.com/abc-defg-hij?authuser=grace%2Bwork@example.com"


def test_the_account_leaves_other_services_alone() -> None:
    assert detect_conference(description="https://zoom.us/j/5551234567", account_email="grace@example.com").join_url == (
        "https://zoom.us/j/5551234567"
    )
    assert detect_conference(description="https://meet.google.com/abc-defg-hij").join_url == "https://meet.google.com/abc-defg-hij"


def test_with_google_account_keeps_the_fragment() -> None:
    assert with_google_account("https://meet.google.com/abc-defg-hij#x", "a@b.c") == "https://meet.google.com/abc-defg-hij?authuser=a@b.c#x"


# --- URL helpers ----------------------------------------------------------------------------


def test_unwrapping_safe_links_redirects_and_url_defense() -> None:
    assert unwrap_url(SAFELINK) == TEAMS_JOIN
    assert unwrap_url("https://www.google.com/url?q=https://zoom.us/j/1%3Fpwd%3D2&sa=D") == "https://zoom.us/j/1?pwd=2"
    nested = "https://eur01.safelinks.protection.outlook.com/?url=" + quote(
        "https://www.google.com/url?q=" + quote("https://meet.google.com/abc-defg-hij", safe="") + "&sa=D", safe=""
    ) + "&data=x"
    assert unwrap_url(nested) == "https://meet.google.com/abc-defg-hij"
    assert unwrap_url("https://urldefense.proofpoint.com/v2/url?u=https-3A__zoom.us_j_5551234567&d=DwMFaQ") == (
        "https://zoom.us/j/5551234567"
    )
    assert unwrap_url("https://urldefense.com/v3/__https://zoom.us/j/5551234567__;!!ABC!def$") == "https://zoom.us/j/5551234567"
    assert unwrap_url("https://nam12.safelinks.protection.outlook.com/?url=javascript%3Aalert(1)") == (
        "https://nam12.safelinks.protection.outlook.com/?url=javascript%3Aalert(1)"
    )


@pytest.mark.parametrize(
    ("url", "service"),
    [
        ("https://meet.google.com/abc-defg-hij", "GOOGLE_MEET"),
        ("https://meet.google.com/x", "GOOGLE_MEET"),
        ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0", "TEAMS"),
        ("https://example.zoom.us/j/123", "ZOOM"),
        ("https://zoom.us/s/123", "ZOOM"),
        ("https://acme.zoomgov.com/j/1601234567", "ZOOM"),
        ("https://acme.webex.com/acme/j.php?MTID=m1", "WEBEX"),
        ("https://whereby.com/room", "WHEREBY"),
        ("https://bluejeans.com/123456789", "BLUEJEANS"),
        ("https://doxy.me/drsmith", "DOXY_ME"),
        ("https://join.skype.com/aBcD", "SKYPE"),
        ("https://global.gotomeeting.com/join/123456789", "GOTO_MEETING"),
        ("https://meet.jit.si/Room", "JITSI"),
        ("https://chime.aws/1234567890", "CHIME"),
        ("https://app.slack.com/huddle/T1/C2", "SLACK_HUDDLE"),
        ("https://app.slack.com/client/T1/C2", None),
        ("https://video.example.com/rooms/42", None),
        ("not a url", None),
        ("https://[::1", None),
    ],
)
def test_service_for_url_names_a_conference_links_service(url: str, service: str | None) -> None:
    assert service_for_url(url) == service
    assert ical_service_for_url(url) == service  # the ical module re-exports the one owner


def test_identify_join_link_wants_a_meeting_shaped_path() -> None:
    assert identify_join_link("https://zoom.us/pricing") is None
    assert service_for_url("https://zoom.us/pricing") == "ZOOM"  # a conference field's link: the host says enough
    link = identify_join_link("https://nam12.safelinks.protection.outlook.com/?url=" + quote("https://zoom.us/j/42?pwd=7", safe=""))
    assert link is not None and (link.service, link.url, link.meeting_id, link.passcode) == ("ZOOM", "https://zoom.us/j/42?pwd=7", "42", "7")


def test_find_join_links_keeps_order_and_drops_repeats() -> None:
    text = "a https://meet.jit.si/A b https://zoom.us/j/1 c https://meet.jit.si/A d https://example.com/x"
    assert [(link.service, link.url) for link in find_join_links(text)] == [
        ("JITSI", "https://meet.jit.si/A"), ("ZOOM", "https://zoom.us/j/1")
    ]


def test_plain_text_keeps_hrefs_and_drops_markup() -> None:
    text = plain_text(
        '<div>Hello&nbsp;<b>there</b></div><style>p{color:red}</style><!-- <a href="https://zoom.us/j/9"> -->'
        '<a href="https://example.com/a?b=1&amp;c=2">link</a><![if !supportLists]>x<![endif]><p>caf&eacute;\u200b</p>'
    )
    assert "Hello there" in text and "https://example.com/a?b=1&c=2" in text and "café" in text
    assert "color" not in text and "zoom.us" not in text and "<" not in text
    assert plain_text("a < b &amp; c <https://zoom.us/j/1>") == "a < b & c <https://zoom.us/j/1>"


# --- hostile input --------------------------------------------------------------------------

PATHOLOGICAL = [
    "<a " * 30_000,
    "</a" * 30_000,
    "<!--" + "-" * 100_000,
    '<a href="' * 20_000,
    "<![foo[ " * 10_000,
    "a." * 50_000 + "/",
    "a" * 100_000 + ".com/",
    "https://" * 12_000,
    "https://zoom.us/j/" + "1" * 100_000,
    "Passcode:" + " " * 100_000,
    "Meeting ID: " + "1 " * 50_000,
    "+1 " * 30_000,
    "Dial by your location\n" + "+1 646 931 3860 US\n" * 5_000,
    "meet.google.com/" * 6_000,
    "(" * 50_000 + "https://zoom.us/j/1" + ")" * 50_000,
    "<style>" * 15_000,
    "&#" * 50_000,
]


@pytest.mark.parametrize("text", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_large_hostile_input_is_handled(text: str) -> None:
    # Linear time is the point; pytest's duration report shows a regression, no wall-clock
    # assertion here (CI machines vary).
    found = detect_conference(description=text, location=text[:4096])
    assert found.service in (NO_CONFERENCE, "ZOOM", "GOOGLE_MEET")


FRAGMENTS = [*"<>/=\"'&;#:.,-_ ()[]\n\tapzhtsoumjw19+*%", "https://", "zoom.us/j/", "<a href=", "tel:", "meet.google.com/",
             "Passcode: ", "Meeting ID: ", "&amp;", "safelinks.protection.outlook.com/?url=", "Dial by your location\n",
             "zoommtg://", "<br>", "<!--", "abc-defg-hij", "PIN: 1 2#", ",,", "<![if x]>"]


@settings(max_examples=300, deadline=None)
@given(
    # Fragments of invitations, so that the search reaches URLs, tags and labels often.
    st.lists(st.sampled_from(list(FRAGMENTS)), max_size=200).map("".join),
    st.one_of(st.none(), st.emails()),
)
def test_arbitrary_text_never_raises(text: str, email: str | None) -> None:
    found = detect_conference(description=text, location=text, conference=ConferenceData(join_url=text or None), account_email=email)
    assert isinstance(found, DetectedConference)
    assert found.found == (found.service != NO_CONFERENCE)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_arbitrary_unicode_never_raises(text: str) -> None:
    detect_conference(description=text, location=text)
    plain_text(text)
