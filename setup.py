"""Packaging for hlgfa_nb. Every setting lives in settings.ini (shared with nbdev); this file only reads it."""
from configparser import ConfigParser
from pathlib import Path

import setuptools

here = Path(__file__).parent
cfg = ConfigParser(delimiters=['='])
cfg.read(here/'settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive']
tested_pythons = ['3.11']  # the versions CI runs (.ci/run); python_requires is the oldest the code is written for
min_python = cfg['min_python']
lic = licenses[cfg['license']]

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=(here/'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    author=cfg['author'],
    author_email=cfg['author_email'],
    url=cfg['git_url'],
    project_urls={'Source': cfg['git_url'], 'Changelog': cfg['git_url'] + '/blob/main/CHANGELOG.md',
                  'Issues': cfg['git_url'] + '/issues'},
    license=lic[0],
    keywords=cfg['keywords'].split(),
    classifiers=[
        'Development Status :: ' + statuses[int(cfg['status'])],
        'Intended Audience :: ' + cfg['audience'],
        'License :: ' + lic[1],
        'Natural Language :: ' + cfg['language'],
        'Topic :: Scientific/Engineering :: Image Recognition',
    ] + ['Programming Language :: Python :: ' + v for v in tested_pythons],
    python_requires='>=' + min_python,
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*']),
    include_package_data=True,
    install_requires=cfg['requirements'].split(),
    extras_require={'dev': cfg['dev_requirements'].split(), 'weights': cfg['weights_requirements'].split(),
                    'export': cfg['export_requirements'].split(), 'log': cfg['log_requirements'].split()},
    entry_points={'console_scripts': cfg['console_scripts'].split(),
                  'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
    zip_safe=False,
)
