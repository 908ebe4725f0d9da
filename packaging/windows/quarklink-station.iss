; Inno Setup 6 script for QuarkLink Station on Windows.
;
; UNTESTED: this project's machines and CI are Linux; nobody has compiled or run this script yet.
; Treat it as a starting point and check every line on Windows before shipping.
;
; Build the bundle first (README, "Installing" > "Windows"), then from the repository root:
;     iscc /DAppVersion=0.1.0 packaging\windows\quarklink-station.iss
; The installer lands in build\dist\QuarkLinkStation-Setup-<version>.exe.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define Bundle "..\..\build\dist\quarklink-station"

[Setup]
AppId={{87306B16-BEA1-4E7B-B265-90B9784E3566}
AppName=QuarkLink Station
AppVersion={#AppVersion}
AppPublisher=QuarkLink
DefaultDirName={autopf}\QuarkLink Station
DefaultGroupName=QuarkLink Station
DisableProgramGroupPage=yes
OutputDir=..\..\build\dist
OutputBaseFilename=QuarkLinkStation-Setup-{#AppVersion}
Compression=lzma2
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequired=admin
ChangesEnvironment=yes
UninstallDisplayIcon={app}\QuarkLink Station.exe

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; Flags: unchecked
Name: "addtopath"; Description: "Put ql-station on the PATH (for the command line)"

[Files]
; The whole onedir bundle: both executables and _internal\ (never one without the other).
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\QuarkLink Station"; Filename: "{app}\QuarkLink Station.exe"
Name: "{group}\QuarkLink Station self-check"; Filename: "{cmd}"; Parameters: "/k ""{app}\ql-station.exe"" self-check"
Name: "{autodesktop}\QuarkLink Station"; Filename: "{app}\QuarkLink Station.exe"; Tasks: desktopicon

[Registry]
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; \
    ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; \
    Tasks: addtopath; Check: PathLacks(ExpandConstant('{app}'))

[Run]
Filename: "{app}\QuarkLink Station.exe"; Description: "{cm:LaunchProgram,QuarkLink Station}"; \
    Flags: nowait postinstall skipifsilent

[Code]
{ True when the system PATH does not already name the folder (so a reinstall does not add it twice). }
function PathLacks(Folder: string): Boolean;
var
  Current: string;
begin
  if not RegQueryStringValue(HKEY_LOCAL_MACHINE,
    'SYSTEM\CurrentControlSet\Control\Session Manager\Environment', 'Path', Current) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Folder) + ';', ';' + Uppercase(Current) + ';') = 0;
end;
