# x410-vsock: register X410 displays 0-5 as Hyper-V guest communication services.
# Run in an elevated PowerShell (Run as administrator),
# then start X410 with: x410 /listen hyperv
$gcs = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Virtualization\GuestCommunicationServices'
$key = "$gcs\00001770-facb-11e6-bd58-64006a7986d3"
if (-not (Test-Path -Path $key)) { New-Item -Path $key | Out-Null }
New-ItemProperty -Path $key -Name 'ElementName' -PropertyType String -Value 'X410 Display 0' -Force | Out-Null
$key = "$gcs\00001771-facb-11e6-bd58-64006a7986d3"
if (-not (Test-Path -Path $key)) { New-Item -Path $key | Out-Null }
New-ItemProperty -Path $key -Name 'ElementName' -PropertyType String -Value 'X410 Display 1' -Force | Out-Null
$key = "$gcs\00001772-facb-11e6-bd58-64006a7986d3"
if (-not (Test-Path -Path $key)) { New-Item -Path $key | Out-Null }
New-ItemProperty -Path $key -Name 'ElementName' -PropertyType String -Value 'X410 Display 2' -Force | Out-Null
$key = "$gcs\00001773-facb-11e6-bd58-64006a7986d3"
if (-not (Test-Path -Path $key)) { New-Item -Path $key | Out-Null }
New-ItemProperty -Path $key -Name 'ElementName' -PropertyType String -Value 'X410 Display 3' -Force | Out-Null
$key = "$gcs\00001774-facb-11e6-bd58-64006a7986d3"
if (-not (Test-Path -Path $key)) { New-Item -Path $key | Out-Null }
New-ItemProperty -Path $key -Name 'ElementName' -PropertyType String -Value 'X410 Display 4' -Force | Out-Null
$key = "$gcs\00001775-facb-11e6-bd58-64006a7986d3"
if (-not (Test-Path -Path $key)) { New-Item -Path $key | Out-Null }
New-ItemProperty -Path $key -Name 'ElementName' -PropertyType String -Value 'X410 Display 5' -Force | Out-Null
