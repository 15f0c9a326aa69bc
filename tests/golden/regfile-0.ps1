# x410-vsock: register X410 display 0 as Hyper-V guest communication services.
# Run in an elevated PowerShell (Run as administrator),
# then start X410 with: x410 /listen hyperv
$gcs = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Virtualization\GuestCommunicationServices'
$key = "$gcs\00001770-facb-11e6-bd58-64006a7986d3"
if (-not (Test-Path -Path $key)) { New-Item -Path $key | Out-Null }
New-ItemProperty -Path $key -Name 'ElementName' -PropertyType String -Value 'X410 Display 0' -Force | Out-Null
